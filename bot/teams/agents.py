"""The Teams port on the Microsoft 365 Agents SDK 1.9 (core + aiohttp; MSAL in production).

The only module that imports ``microsoft_agents``. What was measured about the SDK offline
is in the design notes (TEAMS.md): anonymous mode is an explicit flag, proactive sends need
the claims-based API, a proactive send without a continuation ID is a plain POST.

Everything posted to a Bot Connector is serialised in one place, ``wire_json``: the SDK
writes fields it set to None as ``null`` (``"id": null`` on every proactive send), which the
Bot Connector's schema refuses with 400 BadArgument.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.activity import (
    Activity,
    Attachment,
    ChannelAccount,
    load_configuration_from_env,
)
from microsoft_agents.activity.entity import Mention as SdkMention
from microsoft_agents.hosting.aiohttp import (
    CloudAdapter,
    jwt_authorization_middleware,
    start_agent_process,
)
from microsoft_agents.hosting.core import (
    AgentApplication,
    AnonymousTokenProvider,
    ConnectionManager,
    MemoryStorage,
    RestChannelServiceClientFactory,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.app.adaptive_card import factory
from microsoft_agents.hosting.core.app.proactive import Conversation
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient
from microsoft_agents.hosting.core.security.outbound_host_validator import (
    OutboundHostValidator,
)

from bot.config import TeamsConfig
from bot.deliver import json_shape
from bot.teams.cards import CARD_CONTENT_TYPE
from bot.teams.port import Handler, Mention, Outbound, SendFailed, TeamsActivity

log = logging.getLogger(__name__)
_THREAD = re.compile(r";messageid=([^;]+)$")
# Logged on every anonymous turn (see TEAMS.md): noise in tests and local trials.
logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(
    logging.ERROR)


def without_nulls(value: Any) -> Any:
    """``value`` with every None left out, at any depth: a field is a value or absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [without_nulls(v) for v in value if v is not None]
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def wire_json(value: Any) -> str:
    """The JSON of every request body sent to a Bot Connector (the connector client's
    serialiser): no null anywhere, datetimes as ISO 8601 (``update_activity`` hands them over
    unconverted)."""
    return json.dumps(without_nulls(value), default=_json_value, separators=(",", ":"))


class WireClients(RestChannelServiceClientFactory):
    """The SDK's connector clients, serialising request bodies with ``wire_json``."""

    async def create_connector_client(self, *args: Any, **kwargs: Any) -> ConnectorClientBase:
        client = await super().create_connector_client(*args, **kwargs)
        if type(client) is not TeamsConnectorClient:  # not a Bot Connector (Copilot Studio)
            return client
        sdk = client.client
        session = aiohttp.ClientSession(base_url=client.base_uri, headers=sdk.headers,
                                        json_serialize=wire_json)
        await sdk.close()
        return TeamsConnectorClient(endpoint=client.base_uri, token="", session=session)


def base_conversation(conversation_id: str) -> str:
    """A channel thread's conversation ID names its channel plus the thread: the channel."""
    return _THREAD.sub("", conversation_id)


def thread_root(conversation_id: str, conversation_type: str | None, activity_id: str,
                reply_to: str | None) -> str | None:
    """The thread of a channel activity: its root message's ID, named by the conversation
    ID's ``;messageid=`` suffix; without one, the message it answers (a card's button) or
    the activity itself (a new post is its thread's root). None outside channels."""
    found = _THREAD.search(conversation_id)
    if found:
        return found[1]
    if conversation_type != "channel":
        return None
    return reply_to or activity_id or None


def in_thread(conversation_id: str, thread: str) -> str:
    """The conversation ID of a channel's thread: posting there answers in the thread."""
    return f"{base_conversation(conversation_id)};messageid={thread}"


def _strip_names(value: Any) -> Any:
    """A conversation reference without anyone's name or directory ID (not needed to send)."""
    if isinstance(value, dict):
        return {k: _strip_names(v) for k, v in value.items()
                if k not in ("name", "aadObjectId", "_span_context")}
    if isinstance(value, list):
        return [_strip_names(v) for v in value]
    return value


def _for_channel(reference: dict[str, Any]) -> dict[str, Any]:
    """Post to the channel (a new thread), not into the thread the command came from."""
    conversation = (reference.get("conversation_reference") or {}).get("conversation")
    if isinstance(conversation, dict) and "id" in conversation:
        conversation["id"] = base_conversation(str(conversation["id"]))
    return reference


def _mentions(activity: Activity) -> tuple[Mention, ...]:
    out = []
    for entity in activity.entities or []:
        raw = entity.model_dump(by_alias=True) if hasattr(entity, "model_dump") else {}
        if raw.get("type") != "mention":
            continue
        who = raw.get("mentioned") or {}
        if who.get("id") and raw.get("text"):
            out.append(Mention(user_id=str(who["id"]), name=str(who.get("name") or ""),
                               text=str(raw["text"])))
    return tuple(out)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple((str(k), str(v)) for k, v in value.items()
                 if k != "verb" and isinstance(v, str | int | float | bool))


class AgentsPort:
    """``Port`` on the Agents SDK: the endpoint, and proactive sends from stored references."""

    def __init__(self, config: TeamsConfig, handler: Handler) -> None:
        self.handler = handler
        settings = {"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": config.app_id,
                    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET":
                        config.app_password,
                    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": config.tenant_id,
                    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__AUTHTYPE": "ClientSecret"}
        sdk = load_configuration_from_env({k: v for k, v in settings.items() if v})
        section = sdk["CONNECTIONS"].setdefault("SERVICE_CONNECTION", {}).setdefault(
            "SETTINGS", {})
        manager: Any
        if config.anonymous:
            # Local tests only: no Authorization accepted or sent, Entra ID never called.
            section["ANONYMOUS_ALLOWED"] = True
            manager = ConnectionManager(lambda _cfg: AnonymousTokenProvider(), **sdk)
            validator = OutboundHostValidator(enabled=False)
        else:
            from microsoft_agents.authentication.msal import MsalConnectionManager

            manager = MsalConnectionManager(**sdk)
            validator = OutboundHostValidator(enabled=True)  # no serviceUrl outside Microsoft
        self.manager = manager
        self.adapter = CloudAdapter(channel_service_client_factory=WireClients(manager),
                                    host_validator=validator)
        self.app = AgentApplication[TurnState](
            storage=MemoryStorage(), connection_manager=manager, start_typing_timer=False,
            remove_recipient_mention=False, **sdk)
        self.app.activity("message")(self._on_message)
        self.app.activity("messageUpdate")(self._on_edit)
        self.app.activity("messageDelete")(self._ignore)
        self.app.activity("messageReaction")(self._ignore)
        self.app.conversation_update("membersAdded")(self._on_added)
        self.app.conversation_update("membersRemoved")(self._on_removed)
        self.app.adaptive_card.action_execute(re.compile(".*"))(self._on_execute)

    # ---- inbound ---------------------------------------------------------------------
    def _activity(self, ctx: TurnContext, kind: str, **fields: Any) -> TeamsActivity:
        a = ctx.activity
        reference = Conversation.from_turn_context(ctx).store_item_to_json()
        conversation = a.conversation.id if a.conversation else ""
        at = a.timestamp
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        kind_of = a.conversation.conversation_type if a.conversation else None
        return TeamsActivity(
            kind=kind, activity_id=str(a.id or ""),
            conversation_id=base_conversation(conversation),
            personal=bool(a.conversation and a.conversation.conversation_type == "personal"),
            sender=str(a.from_property.id if a.from_property else ""),
            sender_name=str(a.from_property.name or "") if a.from_property else "",
            bot_id=str(a.recipient.id if a.recipient else ""),
            reference=_for_channel(_strip_names(reference)), reply_to=a.reply_to_id, at=at,
            thread=thread_root(conversation, kind_of, str(a.id or ""), a.reply_to_id),
            **fields)

    async def _on_message(self, ctx: TurnContext, state: TurnState) -> None:
        a = ctx.activity
        if isinstance(a.value, dict) and not (a.text or "").strip():
            await self.handler(self._activity(ctx, "submit", verb=str(a.value.get("verb", "")),
                                              data=_pairs(a.value)))
            return
        await self.handler(self._activity(ctx, "message", text=a.text or "",
                                          mentions=_mentions(a)))

    async def _on_edit(self, ctx: TurnContext, state: TurnState) -> None:
        """A message edited in Teams (``messageUpdate``, the same activity ID): read as on
        Matrix, a corrected command."""
        a = ctx.activity
        await self.handler(self._activity(ctx, "edit", text=a.text or "",
                                          mentions=_mentions(a)))

    async def _ignore(self, ctx: TurnContext, state: TurnState) -> None:
        """Activities the bot does not act on, routed so that the SDK does not log them
        (its "no route" warning quotes the activity's text)."""

    async def _on_removed(self, ctx: TurnContext, state: TurnState) -> None:
        """People removed from the team or chat: each one's leaving, as on Matrix."""
        a = ctx.activity
        bot = a.recipient.id if a.recipient else None
        gone = tuple(str(m.id) for m in a.members_removed or [] if m.id and m.id != bot)
        if gone:
            await self.handler(self._activity(ctx, "removed", data=tuple(
                (user, "leave") for user in gone)))

    async def _on_added(self, ctx: TurnContext, state: TurnState) -> None:
        a = ctx.activity
        bot = a.recipient.id if a.recipient else None
        if any(m.id == bot for m in a.members_added or []):
            await self.handler(self._activity(ctx, "added"))

    async def _on_execute(self, ctx: TurnContext, state: TurnState, data: Any) -> Any:
        value = ctx.activity.value if isinstance(ctx.activity.value, dict) else {}
        action = value.get("action") or {}
        answer = await self.handler(self._activity(
            ctx, "execute", verb=str(action.get("verb") or ""), data=_pairs(data)))
        return factory.message(answer or "")

    def web_app(self) -> web.Application:
        async def messages(request: web.Request) -> web.StreamResponse:
            response = await start_agent_process(request, self.app, self.adapter)
            return response if response is not None else web.Response(status=202)

        web_app = web.Application(middlewares=[jwt_authorization_middleware])
        web_app.router.add_post("/api/messages", messages)
        # The SDK's middleware reads this plain string key (it must be set, or every
        # request gets a 500).
        web_app["agent_configuration"] = self.manager.get_default_connection_configuration()
        return web_app

    # ---- outbound --------------------------------------------------------------------
    async def send(self, reference: dict[str, Any], msg: Outbound) -> str:
        activity = outgoing(msg)
        try:
            return await self._turn(reference, lambda ctx: ctx.send_activity(activity),
                                    reply_to=msg.reply_to, thread=msg.thread)
        except SendFailed as e:
            e.shape = activity_shape(activity, msg)
            raise

    async def update(self, reference: dict[str, Any], activity_id: str, msg: Outbound) -> str:
        activity = outgoing(msg)
        activity.id = activity_id
        try:
            return await self._turn(reference, lambda ctx: ctx.update_activity(activity))
        except SendFailed as e:
            e.shape = activity_shape(activity, msg)
            raise

    async def _turn(self, reference: dict[str, Any],
                    call: Callable[[TurnContext], Awaitable[Any]],
                    reply_to: str | None = None, thread: str | None = None) -> str:
        """``call`` in a proactive turn of the conversation of ``reference``; the connector's
        refusal or silence as ``SendFailed``; the activity ID it answered.

        With ``thread`` the turn is in that thread of the channel (its conversation ID
        ``…;messageid={thread}``); with ``reply_to`` a send is a reply to that activity
        (``POST …/activities/{reply_to}``), else a plain ``POST …/activities``."""
        conversation = Conversation.from_json_to_store_item(reference)
        claims = Conversation.identity_from_claims(conversation.claims)
        continuation = conversation.conversation_reference.get_continuation_activity()
        if thread and continuation.conversation is not None:
            continuation.conversation = continuation.conversation.model_copy(
                update={"id": in_thread(continuation.conversation.id, thread)})
        continuation.id = reply_to or None  # no reply to a made-up ID
        sent: list[Any] = []
        failure: list[BaseException] = []

        async def deliver(ctx: TurnContext) -> None:
            try:
                sent.append(await call(ctx))
            except Exception as e:  # the adapter would swallow it; hand it back
                failure.append(e)

        try:
            await self.adapter.continue_conversation_with_claims(claims, continuation, deliver)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise SendFailed(0, type(e).__name__) from e
        if failure:
            err = failure[0]
            if isinstance(err, aiohttp.ClientResponseError):
                retry = err.headers.get("Retry-After") if err.headers else None
                raise SendFailed(err.status, str(err.message)[:200],
                                 float(retry) if retry and retry.isdigit() else None) from err
            if isinstance(err, aiohttp.ClientError | TimeoutError | OSError):
                raise SendFailed(0, type(err).__name__) from err
            raise err
        resource = sent[0] if sent else None
        return str(getattr(resource, "id", "") or "")


def activity_shape(activity: Activity, msg: Outbound) -> str:
    """The structure of a refused activity for the log: its fields as we set them (the
    conversation's come from the reference), each string as its length; no text."""
    wire = without_nulls(activity.model_dump(mode="json", by_alias=True, exclude_none=True))
    return json.dumps({"activity": json_shape(wire), "reply": msg.reply_to is not None,
                       "thread": msg.thread is not None}, separators=(",", ":"))


def outgoing(msg: Outbound) -> Activity:
    """The message activity of ``msg``: Teams HTML text, or an Adaptive Card with a summary."""
    activity = Activity(type="message")
    if msg.card is not None:
        activity.attachments = [Attachment(content_type=CARD_CONTENT_TYPE, content=msg.card)]
        activity.summary = msg.summary[:500]
    else:
        activity.text = msg.text or msg.summary
        activity.text_format = "xml"
    if msg.mentions:
        activity.entities = [SdkMention(mentioned=ChannelAccount(id=m.user_id, name=m.name),
                                        text=m.text) for m in msg.mentions]
    return activity
