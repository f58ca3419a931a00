"""POSIX extended regular expressions (as Asterisk's ``regcomp(REG_EXTENDED|REG_NOSUB)``), run by Python's re.

Asterisk compiles every event-filter regex with glibc's ``regcomp``; Python's ``re`` is
another dialect: it accepts ``(?!...)`` look-ahead, which POSIX cannot compile, and
reads ``\\d`` as a digit, which glibc reads as the letter ``d``. :func:`compile_ere`
parses the POSIX ERE grammar (with glibc's GNU escapes) and translates it to an
equivalent Python pattern, or raises :class:`PosixRegexError` where ``regcomp`` would
fail. Only "does it match" is ever asked (``REG_NOSUB``), so POSIX's leftmost-longest
rule and Python's leftmost-first rule give the same answers.

Grammar (glibc ``RE_SYNTAX_POSIX_EXTENDED``)
--------------------------------------------
======================  ==============================================================
``.``                   any character, newline included (no ``REG_NEWLINE``)
``^`` ``$``             start / end of the whole text (anchors anywhere in an ERE)
``[...]`` ``[^...]``    bracket expression: ``]`` first is literal, ``\\`` is literal,
                        ranges ``a-z``, classes ``[:alpha:]``, ``[=c=]``, ``[.c.]``
``(...)`` ``|``         group, alternation (empty alternatives match the empty string)
``* + ? {m} {m,} {m,n}`` repetition; stacking is allowed (``a**``); a repetition with
                        nothing before it (``*a``, ``(?!x)``, ``a|+``) is an error
``\\1``..``\\9``          back-reference to a closed group (else an error)
``\\w \\W \\s \\S \\b \\B``   GNU word/space classes and boundaries; ``\\<`` ``\\>`` word
                        start/end; ``\\``` ``\\'`` text start/end
``\\`` + other char       that character, literally (``\\d`` is ``d``); ``\\`` at the end
                        is an error
a lone ``)``            an ordinary character (``RE_UNMATCHED_RIGHT_PAREN_ORD``)
======================  ==============================================================
"""

from __future__ import annotations

import re

__all__ = ["PosixRegexError", "compile_ere", "translate"]

_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "print": " -~",
    "graph": "!-~",
    "cntrl": "\\x00-\\x1f\\x7f",
    "xdigit": "0-9A-Fa-f",
}
_GNU = {"w": r"\w", "W": r"\W", "s": r"\s", "S": r"\S", "b": r"\b", "B": r"\B", "`": r"\A", "'": r"\Z"}
_ANCHOR_LIKE = {"^", "$", r"\b", r"\B", r"\A", r"\Z", r"\b(?=\w)", r"\b(?<=\w)"}
_INTERVAL = re.compile(r"\{(\d+)(,(\d*))?\}")
_DUP_MAX = 0x7FFF  # RE_DUP_MAX


class PosixRegexError(ValueError):
    """``regcomp`` would refuse this pattern (Asterisk: "Unable to compile regex filter")."""


def compile_ere(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern), re.DOTALL)


def translate(pattern: str) -> str:
    """The Python pattern equivalent to POSIX ERE ``pattern``; :class:`PosixRegexError` if invalid."""
    return _Parser(pattern).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.groups_open = 0
        self.groups_closed = 0

    def error(self, why: str) -> PosixRegexError:
        return PosixRegexError(f"{why} at position {self.i} of {self.text!r}")

    def parse(self) -> str:
        out = self.alternation(top=True)
        if self.i < len(self.text):  # pragma: no cover (alternation consumes everything at top level)
            raise self.error("unexpected character")
        return out

    def alternation(self, top: bool) -> str:
        branches = [self.branch(top)]
        while self.i < len(self.text) and self.text[self.i] == "|":
            self.i += 1
            branches.append(self.branch(top))
        return "|".join(branches)

    def branch(self, top: bool) -> str:
        atoms: list[str] = []
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "|" or (c == ")" and not top):
                break
            if c in "*+?{":
                if not atoms or atoms[-1] in _ANCHOR_LIKE:
                    raise self.error("repetition-operator operand invalid")
                atoms[-1] = f"(?:{atoms[-1]}){self.repetition()}"
                continue
            atoms.append(self.atom(top))
        return "".join(atoms)

    def repetition(self) -> str:
        c = self.text[self.i]
        if c != "{":
            self.i += 1
            return c
        m = _INTERVAL.match(self.text, self.i)
        if m is None:
            raise self.error("invalid interval (braces)")
        low = int(m.group(1))
        high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        if low > _DUP_MAX or (high is not None and (high < low or high > _DUP_MAX)):
            raise self.error("invalid interval bounds")
        self.i = m.end()
        return m.group(0)

    def atom(self, top: bool) -> str:
        text = self.text
        c = text[self.i]
        self.i += 1
        if c == ".":
            return "."
        if c == "^":
            return "^"
        if c == "$":
            return r"\Z"
        if c == "(":
            self.groups_open += 1
            inner = self.alternation(top=False)
            if self.i >= len(text) or text[self.i] != ")":
                raise self.error("unmatched ( or \\(")
            self.i += 1
            self.groups_closed += 1
            return f"({inner})"
        if c == ")":  # only reached at top level: an unmatched ) is ordinary
            return re.escape(c)
        if c == "[":
            return self.bracket()
        if c == "\\":
            if self.i >= len(text):
                raise self.error("trailing backslash")
            e = text[self.i]
            self.i += 1
            if e.isdigit() and e != "0":
                if int(e) > self.groups_closed:
                    raise self.error("invalid back reference")
                return f"(?:\\{e})"
            if e in _GNU:
                return _GNU[e]
            if e == "<":
                return r"\b(?=\w)"
            if e == ">":
                return r"\b(?<=\w)"
            return re.escape(e)
        return re.escape(c)

    def bracket(self) -> str:
        text = self.text
        start = self.i - 1
        negate = self.i < len(text) and text[self.i] == "^"
        if negate:
            self.i += 1
        items: list[str] = []
        first = True
        while True:
            if self.i >= len(text):
                self.i = start
                raise self.error("unmatched [, [^, [:, [., or [=")
            c = text[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.i + 1 < len(text) and text[self.i + 1] in ":=.":
                kind = text[self.i + 1]
                end = text.find(kind + "]", self.i + 2)
                if end < 0:
                    raise self.error("unmatched [, [^, [:, [., or [=")
                name = text[self.i + 2 : end]
                self.i = end + 2
                if kind == ":":
                    if name not in _CLASSES:
                        raise self.error(f"invalid character class {name!r}")
                    items.append(_CLASSES[name])
                    continue
                if len(name) != 1:
                    raise self.error("invalid collation character")
                lo = name
            else:
                lo = c
                self.i += 1
            if self.i + 1 < len(text) and text[self.i] == "-" and text[self.i + 1] != "]":
                hi = text[self.i + 1]
                self.i += 2
                if hi == "[" and self.i < len(text) and text[self.i] in ".=":
                    raise self.error("range end in a collating element is not supported")
                if ord(hi) < ord(lo):
                    raise self.error("invalid range end")
                items.append(f"{_esc(lo)}-{_esc(hi)}")
            else:
                items.append(_esc(lo))
        return "[" + ("^" if negate else "") + "".join(items) + "]"


def _esc(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[" else ch
