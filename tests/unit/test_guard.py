"""The PII guard where commands meet it: each free-text argument is scanned after Unicode
normalisation (issue #20, item 1); a command that is not carried out is scanned whole.

Rule tests: outcome keys, the refusal's values (which argument, which kinds) and rows.
Identifiers are generated (valid check digits), never a real person's.
"""

from __future__ import annotations

import random
import re

import pytest
from sqlmodel import Session, select

from commands.registry import Ctx, Outgoing, run
from storage import overlegs
from storage.models import Action, Meeting, Partner
from tests.unit.conftest import ADMIN, CHAIR, NOW, REGISTRY, ROOM, SETTINGS, Say
from tests.unit.pii_corpus import fake_bsn


@pytest.fixture
def plan(overleg: Say) -> Say:
    overleg.case = re.search(r"C-\w+", overleg.one("!casus open"))[0]  # type: ignore[attr-defined,index]
    return overleg


def outcome(session: Session, line: str, sender: str = CHAIR) -> list[Outgoing]:
    """What the core answers to ``line``, with its values (the inbound path is in Say)."""
    overleg, member = overlegs.by_room_with_member(session, ROOM, sender)
    ctx = Ctx(room=ROOM, sender=sender, now=NOW, session=session, settings=SETTINGS,
              overleg=overleg, member=member, event_id="$guard")
    return run(REGISTRY, ctx, line)


def actions(session: Session) -> list[Action]:
    return list(session.exec(select(Action)).all())


def test_a_due_date_is_no_longer_read_into_the_description(plan: Say, session: Session) -> None:
    c = plan.case  # type: ignore[attr-defined]
    # Once refused as postcode "2026 OM" and as a birth date, scanned as one line.
    assert plan.key(f"!actie add {c} Politie 31-12-2026 OM vragen om advies") == "action/added"
    assert plan.key(f"!actie add {c} Politie 15-12-2026 Nagaan of de baby al geboren is") \
        == "action/added"
    assert [a.description for a in actions(session)] == [
        "OM vragen om advies", "Nagaan of de baby al geboren is"]


@pytest.mark.parametrize("written", [
    "{bsn}", "{spaced}", "{nbsp}", "{fullwidth}", "{zero_width}", "{broken}"])
def test_an_identifier_in_any_written_form_is_refused_and_nothing_stored(
        plan: Say, session: Session, written: str) -> None:
    bsn = fake_bsn(random.Random(3)).replace(" ", "").replace(".", "")
    forms = {
        "bsn": bsn, "spaced": f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}",
        "nbsp": f"{bsn[:4]}\u00a0{bsn[4:6]}\u00a0{bsn[6:]}",
        "fullwidth": "".join(chr(0xFF10 + int(d)) for d in bsn),
        "zero_width": "\u200b".join(bsn), "broken": f"{bsn[:5]}\n{bsn[5:]}",
    }
    c = plan.case  # type: ignore[attr-defined]
    line = f"!actie add {c} Politie 15-12-2026 Dossier {written.format(**forms)} opvragen"
    [refusal] = [o for o in outcome(session, line) if o.template == "error/pii"]
    assert refusal.values["what"] == "description" and refusal.values["kinds"] == ["bsn"]
    assert bsn[2:7] not in refusal.values["masked"]
    assert plan.keys(line) == ["error/pii", "privacy/redaction_reason"]
    assert actions(session) == []


def test_every_free_text_argument_is_scanned_and_named(plan: Say, session: Session) -> None:
    c = plan.case  # type: ignore[attr-defined]
    lines = {
        f"!actie add {c} Politie 15-12-2026 Gesprek met Jan de Vries plannen": "description",
        "!overleg plan 15-12-2026 14:00 op Kerkstraat 12a": "place",
        "!partner add Jan de Vries core": "partner",
        "!annex add Jeugdhuis door burgemeester mw. K. Meer": "approver",
        "!actie lijst partner dhr. Jansen": "partner",
    }
    for line, what in lines.items():
        refusals = [o for o in outcome(session, line)
                    if o.template == "error/pii"]
        assert [r.values["what"] for r in refusals] == [what], line
    assert actions(session) == [] and session.exec(select(Meeting)).all() == []
    assert "Jan de Vries" not in [p.name for p in session.exec(select(Partner)).all()]


def test_a_refusal_names_every_kind_found(plan: Say, session: Session) -> None:
    c = plan.case  # type: ignore[attr-defined]
    [refusal, _] = outcome(session, f"!actie add {c} Politie 15-12-2026 "
                                    "Bel Jan de Vries op 06-12345678")
    assert refusal.values["kinds"] == ["phone", "name"]


def test_an_organisation_named_after_a_person_passes_once_registered(
        plan: Say, session: Session) -> None:
    c = plan.case  # type: ignore[attr-defined]
    org = "Stichting Anna de Vries"
    assert plan.keys(f"!partner add {org} core")[0] == "error/pii"  # not yet known: a name
    assert plan.key(f"!annex add {org} door burgemeester Teststad", sender=ADMIN) == \
        "covenant/annex_added"
    assert plan.key(f"!partner add {org}") == "partner/added"
    assert plan.key(f"!casus partner {c} add {org}") == "case/linked"
    assert plan.key(f"!actie add {c} Politie 15-12-2026 Terugkoppeling aan {org}") == \
        "action/added"
    # Registering the organisation does not let a person's name through.
    assert plan.keys(f"!actie add {c} Politie 15-12-2026 Gesprek met Jan Jansen")[0] == \
        "error/pii"


def test_a_command_that_is_refused_for_another_reason_is_still_scanned(
        plan: Say, session: Session) -> None:
    bsn = fake_bsn(random.Random(9)).replace(" ", "").replace(".", "")
    replies = plan(f"!privacy lijst {bsn}")  # once echoed back in "unexpected argument"
    assert [r.template for r in replies] == ["error/pii", "privacy/redaction_reason"]
    assert all(bsn not in r.body and bsn[3:7] not in r.body for r in replies)
    replies = plan(f"!frobnicate {bsn}")
    assert [r.template for r in replies] == ["error/pii", "privacy/redaction_reason"]


def test_a_bsn_in_a_description_is_refused_after_the_word_ref_too(plan: Say) -> None:
    bsn = fake_bsn(random.Random(4)).replace(" ", "").replace(".", "")
    c = plan.case  # type: ignore[attr-defined]
    assert plan.keys(f"!actie add {c} Politie 15-12-2026 Zie ref {bsn}")[0] == "error/pii"


# Found by a breaking helper: written forms that hid an identifier, names let through.
@pytest.mark.parametrize("description", [
    "Gesprek met S\u0430nn\u0435 de Vr\u0456\u0435\u0455 plannen",  # Cyrillic look-alikes
    "Bel 0612\u17b4345678 terug",  # Khmer vowel inherent: invisible, printable
    "Dossier 2914\u180b17772 opvragen",  # Mongolian variation selector
    "Huisbezoek 1234 \u0410\u0412",  # a postcode in Cyrillic capitals
])
def test_invisible_and_look_alike_characters_hide_nothing(
        plan: Say, session: Session, description: str) -> None:
    c = plan.case  # type: ignore[attr-defined]
    assert plan.keys(f"!actie add {c} Politie 15-12-2026 {description}")[0] == "error/pii"
    assert actions(session) == []


def test_a_partner_or_annex_entry_is_never_a_persons_name_as_a_whole(
        plan: Say, session: Session) -> None:
    for name in ("Bakker", "Van den Berg", "Sanne Bakker"):
        assert plan.keys(f"!partner add {name} core")[0] == "error/pii", name
    assert plan.keys("!annex add Sanne Bakker door wethouder Jeugd", sender=ADMIN)[0] == \
        "error/pii"
    names = [p.name for p in session.exec(select(Partner)).all()]
    assert not {"Bakker", "Van den Berg", "Sanne Bakker"} & set(names)


def test_a_forbidden_word_is_not_shown_even_masked(plan: Say, session: Session) -> None:
    assert plan.keys("!privacy verbied Zunifex")[0] == "privacy/forbidden"
    c = plan.case  # type: ignore[attr-defined]
    [refusal, _] = outcome(session, f"!actie add {c} Politie 15-12-2026 Zunifex bellen")
    assert refusal.values["kinds"] == ["forbidden"] and refusal.values["masked"] == ""


def test_a_reference_that_is_a_persons_number_is_refused_and_removed(plan: Say) -> None:
    """`!casus openen ref …`: the reference is stored only as a keyed hash, but the message
    stays in the room; a generated BSN, mobile number or IBAN used as the reference is
    refused and the message removed (issue 23), a registration number passes."""
    from tests.pii_generated import _bsn, _iban_nl, _mobile_nsn

    rng = random.Random(2312)
    for _ in range(20):
        for ref in (_bsn(rng), "0" + _mobile_nsn(rng), _iban_nl(rng)):
            keys = plan.keys(f"!casus openen ref {ref}")
            assert keys == ["error/pii", "privacy/redaction_reason"], ref
    assert plan.keys("!casus openen ref ZD-2026-0042") == ["case/opened"]
    assert plan.keys("!casus zoeken ref ZD-2026-0042")[0] != "error/pii"
