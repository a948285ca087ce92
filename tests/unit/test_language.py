"""One language per overleg (issue 23): every word the help and the usage lines show is in
the overleg's language (commands, sub-commands, choices, argument names, examples), and the
words of the other language are accepted as aliases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.render import Renderer, html_to_text
from commands.registry import Registry
from storage.models import Action, Meeting, Member, Partner
from tests.unit.conftest import ADMIN, Say

# Words of the other language that must never show in a locale's help and usage lines.
_NOT_DUTCH = """
    add list remove show send move cancel find close closed all core case external new
    review yes no done overdue mine assign due date time name word setting settings delegate
    weigh assessment forbid allow confirm phase outcome annex help setup meeting member chair
    coordinator the and with by for user kind choose usage missing
"""
_NOT_ENGLISH = """
    toevoegen lijst verwijderen verwijder toon plannen verplaatsen annuleren zoeken sluiten
    gesloten alle kern casus extern nieuw vervolg afsluiten ja nee klaar mijn toewijzen
    uiterlijk datum tijd naam woord vervanger gedelegeerd weging verbieden toestaan bevestig
    fase uitkomst bijlage hulp inrichten lid voorzitter door op en van het een melding
    monitoren afgesloten casusoverleg organisatie omschrijving geen meer informatie actie
    kies voorbeeld gebruik koppel ontkoppel soort rol
"""
FOREIGN = {"nl": frozenset(_NOT_DUTCH.split()), "en": frozenset(_NOT_ENGLISH.split())}


def _text(renderer: Renderer, key: str, locale: str, **values: Any) -> str:
    return html_to_text(renderer.html(key, values, locale, "Europe/Amsterdam"))


def _help_and_usage(renderer: Renderer, registry: Registry,
                    locale: str) -> Iterator[tuple[str, str]]:
    """Every help text and every usage line of ``locale``: (what, text)."""
    usages = [c.usage() for c in registry.commands]
    yield "help/index", _text(renderer, "help/index", locale, usages=usages)
    for spec in registry.commands:
        usage = spec.usage()
        yield spec.key, _text(renderer, "help/command", locale, usages=[usage])
        for a in spec.args:
            yield f"{spec.key} <{a.metavar}>", _text(
                renderer, "error/missing_arg", locale, metavar=a.metavar, usage=usage)
            if a.choices:
                yield f"{spec.key} <{a.metavar}> choices", _text(
                    renderer, "error/bad_choice", locale, metavar=a.metavar, usage=usage,
                    choices=[c.shown() for c in a.choices])
    for specs in registry.nouns.values():
        noun = specs[0].name(locale).split()[0]
        yield f"!{noun} ?", _text(renderer, "error/unknown_subcommand", locale, noun=noun,
                                  given="", usages=[s.usage() for s in specs])


@pytest.mark.parametrize("locale", ["nl", "en"])
@pytest.mark.parametrize("platform", ["matrix", "teams"])
def test_help_and_usage_lines_speak_one_language(registry: Registry, locale: str,
                                                  platform: str) -> None:
    renderer = Renderer(platform=platform)
    wrong = {}
    for what, text in _help_and_usage(renderer, registry, locale):
        words = set(re.findall(r"[^\W\d_]+", text.casefold()))
        if found := words & FOREIGN[locale]:
            wrong[what] = sorted(found)
    assert wrong == {}


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_each_choice_is_explained_in_the_help(registry: Registry, renderer: Renderer,
                                               locale: str) -> None:
    for spec in registry.commands:
        text = _text(renderer, "help/command", locale, usages=[spec.usage()])
        for a in spec.args:
            for c in a.choices:
                if c.value in ("yes", "no"):
                    continue  # ja/nee needs no explanation
                word = getattr(c, locale)
                assert re.search(rf"{re.escape(word)} = \w", text), (spec.key, word)


def test_dutch_words_are_commands(overleg: Say, session: Session) -> None:
    """The words a Dutch overleg shows work as commands, choices included."""
    assert overleg.key("!partner toevoegen Brandweer kern") == "partner/added"
    assert overleg.key("!partner toevoegen Reclassering casus") == "partner/added"
    overleg.one("!bijlage toevoegen Veilig Thuis door burgemeester Teststad", sender=ADMIN)
    assert overleg.key("!partner toevoegen Veilig Thuis extern") == "partner/added"
    kinds = {p.name: p.kind for p in session.exec(select(Partner))}
    assert (kinds["Brandweer"], kinds["Reclassering"], kinds["Veilig Thuis"]) == (
        "core", "case", "external")
    assert overleg.key("!lid toevoegen @pol:localhost Politie voorzitter") == "member/added"
    [member] = session.exec(select(Member).where(Member.user_id == "@pol:localhost"))
    assert member.role == "chair"
    assert overleg.key("!overleg plannen 8-12-2026 14:00 weging") == "meeting/planned"
    assert [m.kind for m in session.exec(select(Meeting))] == ["weging"]
    code = overleg.out("!casus openen").values["case"]
    assert overleg.key(f"!casus partner {code} koppel Jeugdzorg") == "case/linked"
    assert overleg.key(f"!actie toevoegen {code} Politie 15-12-2026 Huisbezoek") == "action/added"
    assert [a.description for a in session.exec(select(Action))] == ["Huisbezoek"]
    assert overleg.key("!agenda toevoegen M1 " + code + " vervolg") == "agenda/added"
    listed = overleg.out("!casus lijst alle")
    assert (listed.template, listed.values["status"]) == ("case/list", "all")


def test_english_words_stay_aliases(overleg: Say, session: Session) -> None:
    assert overleg.key("!partner add Brandweer core") == "partner/added"
    assert overleg.key("!member add @pol:localhost Politie chair") == "member/added"
    assert overleg.key("!meeting plan 8-12-2026 14:00 assessment") == "meeting/planned"
    assert [m.kind for m in session.exec(select(Meeting))] == ["weging"]


def test_a_wrong_choice_names_its_argument_and_the_choices(overleg: Say) -> None:
    out = overleg.out("!casus lijst dicht")
    assert out.template == "error/bad_choice"
    assert out.values["metavar"] == "status"
    assert [c["value"] for c in out.values["choices"]] == ["open", "closed", "all"]
    assert "given" not in out.values  # the refused word is not quoted back


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_every_command_has_a_description_and_an_example(registry: Registry,
                                                         renderer: Renderer,
                                                         locale: str) -> None:
    for spec in registry.commands:
        lines = _text(renderer, "help/command", locale, usages=[spec.usage()]).splitlines()
        assert not lines[0].rstrip().endswith(":"), spec.key  # a description follows
        example = lines[-1].split(": ", 1)[1]
        assert example.startswith(f"!{spec.name(locale)}"), spec.key
        if any(a.required for a in spec.args):
            assert len(example.split()) > len(spec.name(locale).split()), spec.key


def test_what_a_newcomer_found(say) -> None:  # type: ignore[no-untyped-def]
    """An unknown action-list filter is refused as a choice (no internal error); a text in
    the due date's place is a wrong due date, even with a date word later on; the settings'
    names in the overleg's language only."""
    import re

    say("!inrichten Overleg Test")
    say("!partner toevoegen Politie kern")
    case = re.findall(r"C-\w+", say.one("!casus openen"))[0]
    assert say.key("!actie lijst bestaatniet") == "error/bad_choice"
    assert say.key(f"!actie toevoegen {case} Politie Huisbezoek dinsdag") == "error/bad_date"
    assert say.sent[0].values.get("metavar") == "due"
    assert say.key("!instellingen foo 5") == "settings/unknown"
    names = say.sent[0].values["names"]
    assert "taal" in names and "language" not in names and "nudge" not in names


def test_a_wrong_role_after_a_known_partner_is_named_as_the_role(say) -> None:  # type: ignore[no-untyped-def]
    say("!inrichten Overleg Test")
    say("!partner toevoegen Politie kern")
    assert say.key("!lid toevoegen @someone:localhost Politie baas") == "error/bad_choice"
    assert say.sent[0].values.get("metavar") == "role"
    assert say.key("!lid toevoegen @someone:localhost Polite") == "partner/unknown"


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_a_choice_in_help_is_explained_or_not_listed_again(registry: Registry,
                                                           locale: str) -> None:
    """``!hulp <commando>`` lists a choice argument's words a second time only to explain
    each of them (``kern = kernpartner: …``); words that only repeat the usage line (``Ja of
    nee: ja; nee.``) are left out. The weging's outcomes are explained."""
    renderer = Renderer()
    explained = set()
    for spec in registry.commands:
        text = _text(renderer, "help/command", locale, usages=[spec.usage()])
        lines = text.splitlines()[1:]
        for a in spec.args:
            words = [getattr(c, locale) for c in a.choices]
            listing = [ln for ln in lines if all(f"{w}" in ln for w in words) and ";" in ln]
            for line in listing:
                missing = [w for w in words if f"{w} = " not in line]
                assert not missing, (spec.key, a.metavar, missing)
                explained.add(spec.key)
    assert {"weging", "partner add", "case phase"} <= explained


def test_a_nouns_help_lists_only_the_commands_named_with_it(registry: Registry) -> None:
    """``!hulp overleg`` lists the overleg commands, not ``!instellingen`` (whose alias
    "overleg instellingen" is accepted, not shown)."""
    for noun, specs in registry.nouns.items():
        for spec in specs:
            named = (spec.key, *spec.names.values())
            assert any(n.casefold().split()[0] == noun for n in named), (noun, spec.key)
    assert "settings" not in {s.key for s in registry.nouns["overleg"]}
