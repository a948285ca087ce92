"""atheris target: any bytes, as a command line, through the whole core on a fresh database.

The contract (as h11's): no input makes ``handle`` raise, and no input gets the generic
"something went wrong" reply, ``error/internal`` (that would mean a command crashed or a
template failed to render).

    python tests/fuzz/fuzz_core.py -max_total_time=60      # `make fuzz`
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports():
    from bot.render import Renderer
    from commands import default_registry
    from commands.inbound import Inbound, handle
    from commands.registry import Settings
    from storage.db import create_schema, make_engine, session_scope

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOM, CHAIR = "!overleg:localhost", "@chair:localhost"
SETTINGS = Settings(admins=frozenset({CHAIR}), ref_key=b"fuzz-key-0123456789")
REGISTRY, RENDER = default_registry(), Renderer()
ENGINE = make_engine("sqlite://")
create_schema(ENGINE)
with session_scope(ENGINE) as _s:
    for _i, _line in enumerate(["!setup Fuzz", "!partner add Politie core", "!casus open",
                                "!overleg plan 15-12-2026 14:00"]):
        handle(_s, REGISTRY, RENDER, SETTINGS,
               Inbound(f"$seed{_i}", ROOM, CHAIR, _line, NOW, encrypted=True), NOW)
COUNTER = [0]
PREFIXES = ["!", "!overleg plan ", "!actie add ", "!casus ", "!agenda add M1 ", "!bevestig ",
            "!lid add ", "!partner add ", "!instellingen ", "!weging ", "!annex add "]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    text = PREFIXES[fdp.ConsumeIntInRange(0, len(PREFIXES) - 1)] + fdp.ConsumeUnicodeNoSurrogates(
        300)
    COUNTER[0] += 1
    with session_scope(ENGINE) as session:
        nested = session.begin_nested()
        out = handle(session, REGISTRY, RENDER, SETTINGS,
                     Inbound(f"$fz{COUNTER[0]}", ROOM, CHAIR, text, NOW, encrypted=True),
                     NOW).replies
        if any(r.template == "error/internal" for r in out):
            raise AssertionError(f"a command crashed on {text!r}")
        nested.rollback()  # keep the database small and every run alike
    for r in out:
        if r.template == "error/internal":
            raise AssertionError(f"a command crashed on {text!r}")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
