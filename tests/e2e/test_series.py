"""A meeting series on a real Synapse (issue 24): the holidays listed before anything is
planned, the series planned with holidays shifted, its .ics file in the room (read back with
icalendar and recurring-ical-events as a calendar client expands it), and a stop."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from nio import MemoryDownloadResponse
from sqlmodel import Session, col, select

from storage.models import Meeting
from tests.e2e.conftest import World, bot_in_room
from tests.e2e.test_skeleton import ask

pytestmark = pytest.mark.e2e
AMS = ZoneInfo("Europe/Amsterdam")
FRIDAYS = "!overleg reeks elke week op vrijdag 10:00 vanaf 18-12-2026 tot 8-1-2027"


async def test_a_series_with_holidays_its_ics_and_a_stop(world: World) -> None:
    app, bot = await world.start_bot()
    room = world.room(world.chair, [world.bot_user])
    await bot_in_room(bot, room)
    chair = await world.client(world.chair)
    bot_id = world.bot_user.user_id
    await ask(chair, room, bot_id, "!setup Overleg", timeout=20)

    listed = await ask(chair, room, bot_id, FRIDAYS)
    assert "25 december 2026" in listed and "28 december 2026" in listed
    mark = len(chair.seen)
    planned = await ask(chair, room, bot_id, FRIDAYS + " feestdagen verschuiven")
    assert "S1" in planned and "M1" in planned and "M4" in planned
    file = await chair.wait_for(lambda s: s.room_id == room and s.msgtype == "m.file",
                                timeout=20, after=mark)
    assert (file.content or {})["filename"] == "reeks-S1.ics"
    got = await chair.client.download(mxc=str((file.content or {})["url"]))
    assert isinstance(got, MemoryDownloadResponse), got
    cal = icalendar.Calendar.from_ical(got.body)
    shown = recurring_ical_events.of(cal).between(date(2026, 12, 1), date(2027, 2, 1))
    assert sorted(e.decoded("DTSTART").astimezone(AMS).date() for e in shown) == [
        date(2026, 12, 18), date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 8)]

    stopped = await ask(chair, room, bot_id, "!overleg reeks stop S1 vanaf 1-1-2027")
    assert "M3" in stopped and "M4" in stopped
    with Session(app.engine) as session:
        rows = session.exec(select(Meeting).order_by(col(Meeting.number))).all()
        assert [(m.number, m.status) for m in rows] == [
            (1, "planned"), (2, "planned"), (3, "cancelled"), (4, "cancelled")]
