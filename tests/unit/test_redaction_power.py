"""The bot can only protect what it may redact (issue 23): `!setup` says when it may not
remove messages, a refused redaction tells the chairs once, the rule reads power levels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from bot.clock import FakeClock
from bot.deliver import SendResult
from bot.matrix.events import redact_power_in
from bot.runtime import Runtime
from storage import outbox, overlegs
from storage.db import session_scope
from storage.models import OutboxMessage
from storage.outbox import Rendered
from tests.unit.apps import CHAIR, throwaway_app
from tests.unit.conftest import Say

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BOT = "@bot:localhost"


def test_setup_says_when_the_bot_may_not_remove_messages(say: Say) -> None:
    say.redact_power = (0, 50)
    [done, warning] = say.sent_after("!inrichten Casusoverleg Noord")
    assert done.template == "setup/done"
    assert warning.template == "setup/no_redact_power"
    assert dict(warning.values) == {"have": 0, "need": 50}


def test_setup_with_the_power_to_remove_says_nothing_more(say: Say) -> None:
    say.redact_power = (50, 50)
    assert say.keys("!setup Casusoverleg Zuid") == ["setup/done"]


def test_the_power_to_redact_is_read_from_the_power_levels_with_the_spec_defaults() -> None:
    assert redact_power_in({}, BOT) == (0, 50)
    assert redact_power_in({"users": {BOT: 50}}, BOT) == (50, 50)
    assert redact_power_in({"users_default": 10, "redact": 5}, BOT) == (10, 5)
    # Sending the redaction event itself may need more than ``redact``.
    assert redact_power_in({"users": {BOT: 50}, "events": {"m.room.redaction": 75}},
                           BOT) == (50, 75)


def _redaction(room: str, event_id: str) -> Rendered:
    return Rendered(room, "Removed", None, event_type="m.room.redaction",
                    content_json=f'{{"redacts": "{event_id}"}}',
                    template="privacy/redaction_reason")


async def test_a_refused_redaction_tells_the_chairs_once(tmp_path: Path) -> None:
    app = throwaway_app(f"sqlite:///{tmp_path / 'bot.db'}", FakeClock(NOW))
    room = "!overleg:localhost"
    with session_scope(app.engine) as s:
        overleg = overlegs.create(s, room_id=room, name="Overleg", timezone="Europe/Amsterdam",
                                  locale="nl", now=NOW)
        assert overleg.id is not None
        overlegs.put_member(s, overleg_id=overleg.id, user_id=CHAIR, partner_id=None,
                            role="chair", now=NOW)
    results: list[SendResult] = []

    class Homeserver(Runtime):
        async def send(self, row: outbox.Queued) -> SendResult:
            if row.event_type == "m.room.redaction" and results:
                return results.pop(0)
            return SendResult(remote_id=f"$sent-{row.id}")

    runtime = Homeserver(app, holder="test")

    async def redact(*outcomes: SendResult) -> list[tuple[str, tuple[str, ...]]]:
        """Queue one redaction per outcome, deliver; the notices queued meanwhile."""
        with session_scope(app.engine) as s:
            before = len(list(s.exec(select(OutboxMessage))))
            results.extend(outcomes)
            outbox.enqueue(s, [_redaction(room, f"$m{i}-{before}")
                               for i in range(len(outcomes))], NOW)
        for _ in range(3):
            await runtime.deliverer.run_once()
            await runtime.deliverer.settle(5.0)  # the sends a poke started
        with session_scope(app.engine) as s:
            rows = list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]
        return [(r.template, tuple(r.mentions.split())) for r in rows[before:]
                if r.template != "privacy/redaction_reason"]

    forbidden = SendResult(error="redact: M_FORBIDDEN", permanent=True)
    # Three refused in a row: the chair is told at once, and once.
    assert await redact(forbidden, forbidden, forbidden) == [
        ("privacy/not_redacted", (CHAIR,))]
    assert await redact(forbidden) == []
    # Once removing works again, a new refusal is told again.
    assert await redact(SendResult(remote_id="$ok")) == []
    assert await redact(forbidden) == [("privacy/not_redacted", (CHAIR,))]
    await runtime.deliverer.stop()
    app.engine.dispose()
