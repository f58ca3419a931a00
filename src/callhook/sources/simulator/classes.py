"""AMI event classes and the ``Events`` mask of a session, as Asterisk 23 decides them.

Every event belongs to one class (sometimes several), shown in its ``Privilege``
header followed by ``all``: ``Privilege: call,all``. Which class an event has is
Asterisk's (the documentation's "Class" of each AMI event, and the recordings in
``tests/fixtures/ami``): ``VarSet`` and ``Newexten`` are ``dialplan``, ``DTMFBegin``
``dtmf``, ``Cdr`` ``cdr``, queue and agent events ``agent``, ``FullyBooted``
``system``, ``SuccessfulAuth`` ``security``, ``UserEvent`` ``user``, and channels,
bridges, dials, holds and transfers ``call`` (see ``shapes.PRIVILEGE``).

A session gets an event when every class of the event is in its mask
(``send_events & category == category``); the mask is the user's read permission
cut down by ``Events:`` at login or the ``Events`` action (``EventMask``):

=================================  ============================================
``on``, ``yes``, ``true``, ``all``  every class (``1``, being a number, is ``system``)
``off``, ``no``, ``false``, ``0``   none
``call,agent,...``                 those classes, spelt exactly (``Call`` or ``call, agent``
                                   with a space count for nothing, as in Asterisk)
a number                           a bit mask (system=1, call=2, log=4, ...)
empty                              at login: the read permission; the action: an error
=================================  ============================================
"""

from __future__ import annotations

from callhook.core.ami.message import AmiMessage

__all__ = ["ALL", "CLASSES", "event_classes", "parse_mask"]

# (label, bit) in Asterisk's order (main/manager.c perms[], include/asterisk/manager.h)
_BITS = (
    ("system", 0),
    ("call", 1),
    ("log", 2),
    ("verbose", 3),
    ("command", 4),
    ("agent", 5),
    ("user", 6),
    ("config", 7),
    ("dtmf", 8),
    ("reporting", 9),
    ("cdr", 10),
    ("dialplan", 11),
    ("originate", 12),
    ("agi", 13),
    ("cc", 15),
    ("aoc", 16),
    ("test", 17),
    ("security", 18),
    ("message", 30),
)
CLASSES = tuple(label for label, _ in _BITS)
ALL = frozenset(CLASSES)
_TRUE = ("yes", "true", "y", "t", "1", "on")
_FALSE = ("no", "false", "n", "f", "0", "off")


def parse_mask(value: str) -> frozenset[str] | None:
    """The classes named by an ``Events``/``EventMask`` value; None when it is empty."""
    text = value.strip()  # the AMI parser drops the blanks around a header's value
    if not text:
        return None
    if text.isdigit():
        bits = int(text)
        return frozenset(label for label, bit in _BITS if bits & (1 << bit))
    low = text.lower()
    if low in _FALSE:
        return frozenset()
    if low in _TRUE:
        return ALL
    words = set(text.split(","))  # as get_perm(): exact, case- and space-sensitive ("Call" is nothing)
    if "all" in words:
        return ALL
    return frozenset(w for w in words if w in ALL)


def event_classes(msg: AmiMessage) -> frozenset[str]:
    """The classes of an event, from its ``Privilege`` header (``call,all`` -> {call})."""
    return frozenset(w for w in (p.strip().lower() for p in msg.get("Privilege").split(",")) if w and w != "all")
