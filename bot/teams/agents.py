"""The Teams port on the Microsoft 365 Agents SDK 1.9 (core + aiohttp; MSAL in production).

The only module that imports ``microsoft_agents``. What was measured about the SDK offline
is in the design notes (TEAMS.md): anonymous mode is an explicit flag, proactive sends need
the claims-based API, a proactive send without a continuation ID is a plain POST.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC
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
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.app.adaptive_card import factory
from microsoft_agents.hosting.core.app.proactive import Conversation
from microsoft_agents.hosting.core.security.outbound_host_validator import (
    OutboundHostValidator,
)

from bot.config import TeamsConfig
from bot.teams.cards import CARD_CONTENT_TYPE
from bot.teams.port import Handler, Mention, Outbound, SendFailed, TeamsActivity

log = logging.getLogger(__name__)
_THREAD = re.compile(r";messageid=\d+$")
# Logged on every anonymous turn (see TEAMS.md): noise in tests and local trials.
logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(
    logging.ERROR)


def base_conversation(conversation_id: str) -> str:
    """A channel thread's conversation ID names its channel plus the thread: the channel."""
    return _THREAD.sub("", conversation_id)


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
        self.adapter = CloudAdapter(connection_manager=manager, host_validator=validator)
        self.app = AgentApplication[TurnState](
            storage=MemoryStorage(), connection_manager=manager, start_typing_timer=False,
            remove_recipient_mention=False, **sdk)
        self.app.activity("message")(self._on_message)
        self.app.conversation_update("membersAdded")(self._on_added)
        self.app.adaptive_card.action_execute(re.compile(".*"))(self._on_execute)

    # ---- inbound ---------------------------------------------------------------------
    def _activity(self, ctx: TurnContext, kind: str, **fields: Any) -> TeamsActivity:
        a = ctx.activity
        reference = Conversation.from_turn_context(ctx).store_item_to_json()
        conversation = a.conversation.id if a.conversation else ""
        at = a.timestamp
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return TeamsActivity(
            kind=kind, activity_id=str(a.id or ""),
            conversation_id=base_conversation(conversation),
            personal=bool(a.conversation and a.conversation.conversation_type == "personal"),
            sender=str(a.from_property.id if a.from_property else ""),
            sender_name=str(a.from_property.name or "") if a.from_property else "",
            bot_id=str(a.recipient.id if a.recipient else ""),
            reference=_for_channel(_strip_names(reference)), reply_to=a.reply_to_id, at=at,
            **fields)

    async def _on_message(self, ctx: TurnContext, state: TurnState) -> None:
        a = ctx.activity
        if isinstance(a.value, dict) and not (a.text or "").strip():
            await self.handler(self._activity(ctx, "submit", verb=str(a.value.get("verb", "")),
                                              data=_pairs(a.value)))
            return
        await self.handler(self._activity(ctx, "message", text=a.text or "",
                                          mentions=_mentions(a)))

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
        conversation = Conversation.from_json_to_store_item(reference)
        claims = Conversation.identity_from_claims(conversation.claims)
        continuation = conversation.conversation_reference.get_continuation_activity()
        continuation.id = None  # a plain POST …/activities, not a reply to a made-up ID
        activity = Activity(type="message")
        if msg.card is not None:
            activity.attachments = [Attachment(content_type=CARD_CONTENT_TYPE,
                                               content=msg.card)]
            activity.summary = msg.summary[:500]
        else:
            activity.text = msg.text or msg.summary
            activity.text_format = "xml"
        if msg.mentions:
            activity.entities = [SdkMention(mentioned=ChannelAccount(id=m.user_id, name=m.name),
                                            text=m.text) for m in msg.mentions]
        sent: list[Any] = []
        failure: list[BaseException] = []

        async def deliver(ctx: TurnContext) -> None:
            try:
                sent.append(await ctx.send_activity(activity))
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
