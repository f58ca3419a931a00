"""POSIX ERE as glibc's regcomp(REG_EXTENDED) reads it, translated for Python's re."""

from __future__ import annotations

import pytest

from callhook.core.ami.actions import not_equal_regex
from callhook.sources.simulator.posix_regex import PosixRegexError, compile_ere


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("^([^V]|V[^a]|Va[^r]|Var[^S]|VarS[^e]|VarSe[^t]|VarSet.)", "Newchannel", True),
        ("^([^V]|V[^a]|Va[^r]|Var[^S]|VarS[^e]|VarSe[^t]|VarSet.)", "VarSet", False),
        ("^([^V]|V[^a]|Va[^r]|Var[^S]|VarS[^e]|VarSe[^t]|VarSet.)", "VarSetX", True),
        ("^(_|_*(ipbx_custom_field|C2D_EXTEN)$)", "__ipbx_custom_field", True),
        ("^(_|_*(ipbx_custom_field|C2D_EXTEN)$)", "C2D_EXTEN", True),
        ("^(_|_*(ipbx_custom_field|C2D_EXTEN)$)", "DIALSTATUS", False),
        ("^(_|_*(ipbx_custom_field|C2D_EXTEN)$)", "ipbx_custom_field_2", False),
        ("a.c", "a\nc", True),  # no REG_NEWLINE: . matches a newline
        ("^b", "a\nb", False),  # ^ is the start of the text only
        ("a$", "a\n", False),  # $ is the very end (Python's $ would allow a final newline)
        ("[[:digit:]]{3}", "x123", True),
        ("[[:digit:]]{3}", "x12", False),
        ("[]x]", "]", True),  # ] first in a bracket is literal
        ("[a\\]+", "\\", True),  # \ is literal in a bracket
        ("[^[:space:]]", "   ", False),
        ("x{2,}", "xx", True),
        ("x{2,3}y", "xy", False),
        ("a**", "aaa", True),  # stacked repetition is allowed
        ("\\d", "d", True),  # glibc: an escaped ordinary character is itself
        ("\\d", "5", False),
        ("(ab)\\1", "abab", True),  # back-reference (a GNU extension glibc accepts in ERE)
        ("a)", "a)", True),  # an unmatched ) is ordinary
        ("\\<word\\>", "a word here", True),
        ("a|", "zzz", True),  # an empty alternative matches the empty string
        ("[a-c-]", "-", True),
        ("\\.", "x", False),
    ],
)
def test_matches_like_glibc(pattern: str, text: str, found: bool) -> None:
    assert (compile_ere(pattern).search(text) is not None) is found


@pytest.mark.parametrize(
    "pattern",
    [
        "^(?!_*ipbx_custom_field$).",  # look-ahead: ? has no operand
        "(?:x)",
        "*a",
        "a|+b",
        "(+a)",
        "^*",
        "XX[X",
        "[[:word:]]",
        "a{1",
        "a{3,2}",
        "a{,2}",
        "(ab",
        "\\1(a)",
        "trailing\\",
        "[z-a]",
    ],
)
def test_refuses_what_regcomp_refuses(pattern: str) -> None:
    with pytest.raises(PosixRegexError):
        compile_ere(pattern)


@pytest.mark.parametrize("word", ["VarSet", "Newexten", "A"])
def test_the_clients_not_equal_regex_is_posix(word: str) -> None:
    rx = compile_ere(not_equal_regex(word))
    assert rx.search(word) is None
    assert rx.search(word + "X") is not None
    assert rx.search("Hangup") is not None
