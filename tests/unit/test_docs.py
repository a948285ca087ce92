"""The documents promise what holds (issue 23): example case IDs are IDs the bot gives out."""

from __future__ import annotations

import re
from pathlib import Path

from commands import caseid

ROOT = Path(__file__).parents[2]


def test_every_example_case_id_in_the_docs_is_one_the_bot_could_give_out() -> None:
    found = {}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in re.finditer(r"\bC-([0-9A-Z]{3,10})\b", doc.read_text()):
            found[(doc.name, match.group(0))] = match.group(1)
    assert found
    wrong = [where for where, code in found.items()
             if len(code) != caseid.NEW_LEN or caseid.normalise(f"C-{code}") != code]
    assert not wrong, wrong
