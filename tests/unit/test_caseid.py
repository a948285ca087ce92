"""Case IDs: random, Crockford base32, a check character that catches every typo."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from commands import caseid


def test_new_codes_are_valid_random_and_shaped() -> None:
    codes = {caseid.new_code() for _ in range(2000)}
    # Random, not sequential or derived: with 32^5 possible codes a few birthday collisions
    # are possible (opening a case retries on one), but no more than a handful.
    assert len(codes) >= 1990
    for code in codes:
        assert len(code) == caseid.NEW_LEN
        assert caseid.normalise(caseid.display(code)) == code


@given(st.text(alphabet=caseid.ALPHABET, min_size=4, max_size=7))
def test_every_single_character_change_is_caught(data: str) -> None:
    code = data + caseid.check_char(data)
    for i, original in enumerate(code):
        for replacement in caseid.ALPHABET:
            if replacement == original:
                continue
            typo = code[:i] + replacement + code[i + 1:]
            assert caseid.normalise("C-" + typo) is None, typo


@given(st.text(alphabet=caseid.ALPHABET, min_size=4, max_size=7))
def test_adjacent_swaps_are_caught_except_0_and_z(data: str) -> None:
    code = data + caseid.check_char(data)
    for i in range(len(code) - 1):
        a, b = code[i], code[i + 1]
        if a == b or {a, b} == {"0", "Z"}:
            continue
        swapped = code[:i] + b + a + code[i + 2:]
        assert caseid.normalise("C-" + swapped) is None, swapped


def test_input_is_forgiving_of_case_and_look_alikes() -> None:
    data = "70K1Q"
    code = data + caseid.check_char(data)
    assert caseid.normalise(f"c-{code.lower()}") == code
    assert caseid.normalise(f"C-7OK{code[3:]}") == code  # O read as 0
    assert caseid.normalise(f"C-70KI{code[4:]}") == code  # I read as 1
    assert caseid.normalise(f"C-70Kl{code[4:]}") == code  # l read as 1


def test_wrong_shapes_are_refused() -> None:
    for text in ("", "C-", "C-1234", "C-123456789", "7K2FJ", "X-7K2FJ", "C-7K2F!", "C-ÄÄÄÄÄ"):
        assert caseid.normalise(text) is None, text
