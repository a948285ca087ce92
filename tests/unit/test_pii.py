"""The PII guard against a generated corpus: recall >= 99% per kind, false positives <= 1%."""

from __future__ import annotations

import pytest

from commands import pii
from tests.unit.pii_corpus import FORBIDDEN, KINDS, clean, positives

N = 1000
KEY = b"test-key-for-forbidden-words"
HASHES = frozenset(pii.word_hash(KEY, w) for w in FORBIDDEN)


def _scan(text: str) -> pii.Finding | None:
    return pii.scan(text, key=KEY, forbidden=HASHES)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_recall_per_kind(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = positives(kind, N)
    found = [_scan(s) for s in corpus]
    hits = sum(1 for f in found if f is not None)
    right_kind = sum(1 for f in found if f is not None and f.kind == kind)
    with capsys.disabled():
        print(f"\nPII guard recall [{kind}]: {hits / N:.2%} refused, "
              f"{right_kind / N:.2%} named as {kind} ({N} generated sentences)")
    missed = [s for s, f in zip(corpus, found, strict=True) if f is None]
    assert hits / N >= 0.99, missed[:10]
    assert right_kind / N >= 0.95


def test_false_positive_rate(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = clean(N)
    flagged = [(s, f) for s in corpus if (f := _scan(s)) is not None]
    with capsys.disabled():
        print(f"\nPII guard false positives: {len(flagged) / N:.2%} of {N} realistic "
              f"action descriptions")
    assert len(flagged) / N <= 0.01, flagged[:10]


def test_the_finding_is_masked() -> None:
    f = _scan("Bel 06-12345678 vandaag")
    assert f is not None and f.kind == "phone"
    assert "12345" not in f.masked and f.masked.startswith("06") and f.masked.endswith("78")


def test_examples_from_the_product_description() -> None:
    assert _scan("Bel Jan de Vries op 06-12345678").kind == "phone"  # type: ignore[union-attr]
    assert _scan("Huisbezoek afstemmen met wijkagent") is None
    assert _scan("Overleg op 8-12-2026 om 14:00 in Venlo") is None


def test_forbidden_words_need_the_key_and_match_phrases() -> None:
    assert _scan("Gesprek met xyvorna plannen").kind == "forbidden"  # type: ignore[union-attr]
    assert pii.scan("Gesprek met Xyvorna plannen", key=b"other", forbidden=HASHES) is None
    two = frozenset({pii.word_hash(KEY, "Zunifex Vorpelaar")})
    assert pii.scan("Zunifex Vorpelaar bellen", key=KEY, forbidden=two) is not None
    assert pii.scan("Zunifex bellen", key=KEY, forbidden=two) is None


def test_case_ids_never_read_as_identifiers() -> None:
    from commands import caseid

    for _ in range(3000):
        code = caseid.display(caseid.new_code())
        assert _scan(f"!actie add {code} Politie 15-12-2026 Huisbezoek") is None, code
    assert _scan("C-5823AK") is None  # looks like postcode 5823 AK


def test_command_lines_of_the_help_are_clean() -> None:
    from bot.render import Renderer

    for locale in ("nl", "en"):
        examples = Renderer().envs[locale].globals["m"].examples
        for line in examples.values():
            assert _scan(f"!{line}") is None, line
