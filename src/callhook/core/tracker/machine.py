"""The tracker's state machines as tables: a leg's life and a caller's visit to a queue.

Theory of operation
-------------------
The handlers (:mod:`.calls`, :mod:`.queues`, :mod:`.transfers`) read an AMI message,
find the leg or queue visit it is about and translate the message into one *input*
of that object's machine (a ``DialEnd ANSWER`` is :attr:`LegInput.ANSWER`, an
``AgentConnect`` is :attr:`VisitInput.CONNECT`, ...). :func:`step` looks the pair
(state, input) up in the table and returns a :class:`Transition`: the next state and
the :class:`Effect` the handler carries out (which event to emit, if any). Nothing
else changes a leg's or a visit's state.

Every pair is decided here. A pair in the table either moves the machine or is a
documented no-op (``Effect.NONE``: a fact Asterisk repeats, such as a second
``DialEnd CANCEL``, or one that is harmless, such as the ``Unhold`` that precedes a
blind transfer with no ``Hold`` before it). A pair *not* in the table is unexpected:
:func:`step` returns an :class:`Unexpected` instead of a transition, the machine
stays where it is, and the tracker counts it (``Tracker.unexpected``) and hands it
to its adapter, which logs it once per kind (the core does not log).

Leg (one channel of a call)::

    ORIGINATING --DIAL--> DIALLED --RING--> RINGING --ANSWER--> ANSWERED <--UNHOLD-- HELD
         |                   |                 |                   |  \\---HOLD----->/
         | PICKUP            | ANSWER/PICKUP   | DIAL_FAILED       |
         v                   v                 v                   |
      ANSWERED            ANSWERED           FAILED                |
    (any state but ENDED) --HANGUP--> ENDED <----------------------/

Queue visit (a caller in a queue; Webitel's member)::

    WAITING --OFFER / RING_NO_ANSWER--> WAITING          (Offering / Missed)
    WAITING --ABANDON--> WAITING                          (noted; Leaving follows)
    WAITING --LEAVE--> LEFT                               (Leaving: cancel / abandoned)
    WAITING --LEAVE_FOR_AGENT--> CONNECTING --CONNECT--> BRIDGED   (Bridged)
    BRIDGED --COMPLETE / MEMBER_HANGUP--> LEFT            (Leaving: success)
    BRIDGED, LEFT --AGENT_HANGUP--> (same)                (Processing when the agent has wrap-up)

Asterisk 23 sends ``QueueCallerLeave`` *before* ``AgentConnect`` when an agent
answers; the handler tells the two leaves apart (an offered leg already answered:
``LEAVE_FOR_AGENT``), so Leaving is told when the caller really leaves the queue: at
the queue timeout or abandon, or at the end of the conversation with the agent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "LEG_TABLE",
    "VISIT_TABLE",
    "Effect",
    "LegInput",
    "LegState",
    "Transition",
    "Unexpected",
    "VisitInput",
    "VisitState",
    "step",
]


class LegState(enum.StrEnum):
    ORIGINATING = "originating"  # the calling side's own channel (never dialled)
    DIALLED = "dialled"  # a dial destination, not ringing yet
    RINGING = "ringing"
    ANSWERED = "answered"
    HELD = "held"  # this leg has put its party on hold
    FAILED = "failed"  # the dial ended unanswered (no answer, busy, cancelled); the channel lives on
    ENDED = "ended"


class LegInput(enum.StrEnum):
    DIAL = "dial"  # DialBegin with this channel as destination
    RING = "ring"  # DialState RINGING, Newstate Ringing of a dialled channel
    ANSWER = "answer"  # DialEnd ANSWER
    PICKUP = "pickup"  # Pickup, or DialEnd ANSWER of a channel renamed by a pickup
    DIAL_FAILED = "dial_failed"  # DialEnd NOANSWER / BUSY / CANCEL / CONGESTION / CHANUNAVAIL
    HOLD = "hold"
    UNHOLD = "unhold"
    HANGUP = "hangup"


class VisitState(enum.StrEnum):
    WAITING = "waiting"
    CONNECTING = "connecting"  # left the queue for an agent who answered; AgentConnect follows
    BRIDGED = "bridged"
    LEFT = "left"  # Leaving told


class VisitInput(enum.StrEnum):
    OFFER = "offer"  # AgentCalled
    RING_NO_ANSWER = "ring_no_answer"  # AgentRingNoAnswer
    CONNECT = "connect"  # AgentConnect
    ABANDON = "abandon"  # QueueCallerAbandon (also sent at a queue timeout)
    LEAVE = "leave"  # QueueCallerLeave, no agent answered
    LEAVE_FOR_AGENT = "leave_for_agent"  # QueueCallerLeave after an offered leg answered
    COMPLETE = "complete"  # AgentComplete (not a transfer)
    COMPLETE_TRANSFER = "complete_transfer"  # AgentComplete Reason: transfer
    MEMBER_HANGUP = "member_hangup"  # the caller's channel ended
    AGENT_HANGUP = "agent_hangup"  # the bridged agent's leg ended


class Effect(enum.StrEnum):
    NONE = "none"
    RING = "ring"  # call.ringing
    RING_ANSWER = "ring_answer"  # call.ringing (not told yet) then call.answered
    ANSWER = "answer"  # call.answered
    PICKUP = "pickup"  # call.pickup
    NOTE_FAILED = "note_failed"  # keep the dial status for the hangup's reason
    HOLD = "hold"  # call.hold
    UNHOLD = "unhold"  # call.unhold
    HANGUP = "hangup"  # call.hangup (extension legs) and the end of the call when it was the last
    OFFERED = "offered"  # queue.offered
    MISSED = "missed"  # queue.missed
    NOTE_ABANDON = "note_abandon"
    BRIDGED = "bridged"  # queue.bridged
    LEFT = "left"  # queue.left
    WRAPUP = "wrapup"  # agent.wrapup when the agent has a wrap-up time


@dataclass(frozen=True, slots=True)
class Transition:
    state: LegState | VisitState
    effect: Effect


@dataclass(frozen=True, slots=True)
class Unexpected:
    """An input the table has no entry for: the machine stays, the tracker counts it."""

    machine: str  # "leg" | "visit"
    state: str
    input: str
    subject: str = ""  # the channel's Uniqueid or the visit's caller channel

    @property
    def kind(self) -> tuple[str, str, str]:
        return (self.machine, self.state, self.input)


L, LI, E = LegState, LegInput, Effect
_ALIVE = (L.ORIGINATING, L.DIALLED, L.RINGING, L.ANSWERED, L.HELD, L.FAILED)

_LEG: dict[tuple[LegState, LegInput], Transition] = {
    (L.ORIGINATING, LI.DIAL): Transition(L.DIALLED, E.NONE),
    (L.ORIGINATING, LI.PICKUP): Transition(L.ANSWERED, E.PICKUP),  # the picker's own channel
    (L.ORIGINATING, LI.ANSWER): Transition(L.ANSWERED, E.ANSWER),  # adopted mid-call, then answered
    (L.DIALLED, LI.DIAL): Transition(L.DIALLED, E.NONE),  # DialBegin seen twice (Local chains)
    (L.DIALLED, LI.RING): Transition(L.RINGING, E.RING),
    (L.DIALLED, LI.ANSWER): Transition(L.ANSWERED, E.RING_ANSWER),
    (L.DIALLED, LI.PICKUP): Transition(L.ANSWERED, E.PICKUP),
    (L.DIALLED, LI.DIAL_FAILED): Transition(L.FAILED, E.NOTE_FAILED),
    (L.RINGING, LI.DIAL): Transition(L.RINGING, E.NONE),
    (L.RINGING, LI.RING): Transition(L.RINGING, E.NONE),  # DialState RINGING after Newstate Ringing
    (L.RINGING, LI.ANSWER): Transition(L.ANSWERED, E.ANSWER),
    (L.RINGING, LI.PICKUP): Transition(L.ANSWERED, E.PICKUP),
    (L.RINGING, LI.DIAL_FAILED): Transition(L.FAILED, E.NOTE_FAILED),
    (L.ANSWERED, LI.DIAL): Transition(L.ANSWERED, E.NONE),
    (L.ANSWERED, LI.RING): Transition(L.ANSWERED, E.NONE),
    (L.ANSWERED, LI.ANSWER): Transition(L.ANSWERED, E.NONE),  # DialEnd ANSWER after a pickup's
    (L.ANSWERED, LI.PICKUP): Transition(L.ANSWERED, E.NONE),  # Pickup after the masquerade's answer
    (L.ANSWERED, LI.DIAL_FAILED): Transition(L.ANSWERED, E.NONE),  # CANCEL of a leg that answered
    (L.ANSWERED, LI.HOLD): Transition(L.HELD, E.HOLD),
    (L.ANSWERED, LI.UNHOLD): Transition(L.ANSWERED, E.NONE),  # the lone Unhold before a blind transfer
    (L.HELD, LI.HOLD): Transition(L.HELD, E.NONE),
    (L.HELD, LI.UNHOLD): Transition(L.ANSWERED, E.UNHOLD),
    (L.HELD, LI.RING): Transition(L.HELD, E.NONE),
    (L.HELD, LI.ANSWER): Transition(L.HELD, E.NONE),
    (L.FAILED, LI.DIAL_FAILED): Transition(L.FAILED, E.NONE),  # DialEnd CANCEL repeated
    (L.FAILED, LI.RING): Transition(L.FAILED, E.NONE),  # a late Newstate Ringing
    (L.FAILED, LI.PICKUP): Transition(L.ANSWERED, E.PICKUP),  # the ringing leg a pickup took over
    (L.ORIGINATING, LI.HOLD): Transition(L.HELD, E.HOLD),  # the caller's own phone holds
    (L.ORIGINATING, LI.UNHOLD): Transition(L.ORIGINATING, E.NONE),
    (L.ORIGINATING, LI.RING): Transition(L.ORIGINATING, E.NONE),  # its own Newstate Ringing (not dialled)
    (L.ORIGINATING, LI.DIAL_FAILED): Transition(L.ORIGINATING, E.NONE),  # a Local half's DialEnd
    **{(s, LI.HANGUP): Transition(L.ENDED, E.HANGUP) for s in _ALIVE},
    **{(L.ENDED, i): Transition(L.ENDED, E.NONE) for i in (LI.DIAL_FAILED, LI.RING, LI.HANGUP)},
}
LEG_TABLE: Mapping[tuple[LegState, LegInput], Transition] = MappingProxyType(_LEG)

V, VI = VisitState, VisitInput
_VISIT: dict[tuple[VisitState, VisitInput], Transition] = {
    (V.WAITING, VI.OFFER): Transition(V.WAITING, E.OFFERED),
    (V.WAITING, VI.RING_NO_ANSWER): Transition(V.WAITING, E.MISSED),
    (V.WAITING, VI.ABANDON): Transition(V.WAITING, E.NOTE_ABANDON),
    (V.WAITING, VI.LEAVE): Transition(V.LEFT, E.LEFT),
    (V.WAITING, VI.LEAVE_FOR_AGENT): Transition(V.CONNECTING, E.NONE),
    (V.WAITING, VI.CONNECT): Transition(V.BRIDGED, E.BRIDGED),  # a PBX that connects before the leave
    (V.WAITING, VI.MEMBER_HANGUP): Transition(V.LEFT, E.LEFT),  # no QueueCallerLeave seen (resync)
    (V.CONNECTING, VI.CONNECT): Transition(V.BRIDGED, E.BRIDGED),
    (V.CONNECTING, VI.MEMBER_HANGUP): Transition(V.LEFT, E.LEFT),
    (V.CONNECTING, VI.RING_NO_ANSWER): Transition(V.CONNECTING, E.NONE),  # a loser timing out in the same instant
    (V.BRIDGED, VI.LEAVE): Transition(V.BRIDGED, E.NONE),
    (V.BRIDGED, VI.LEAVE_FOR_AGENT): Transition(V.BRIDGED, E.NONE),
    (V.BRIDGED, VI.COMPLETE): Transition(V.LEFT, E.LEFT),
    (V.BRIDGED, VI.COMPLETE_TRANSFER): Transition(V.BRIDGED, E.NONE),  # Leaving when the caller's part ends
    (V.BRIDGED, VI.MEMBER_HANGUP): Transition(V.LEFT, E.LEFT),
    (V.BRIDGED, VI.AGENT_HANGUP): Transition(V.BRIDGED, E.WRAPUP),
    (V.LEFT, VI.AGENT_HANGUP): Transition(V.LEFT, E.WRAPUP),
    (V.LEFT, VI.MEMBER_HANGUP): Transition(V.LEFT, E.NONE),
    (V.LEFT, VI.LEAVE): Transition(V.LEFT, E.NONE),
    (V.LEFT, VI.COMPLETE): Transition(V.LEFT, E.NONE),
}
VISIT_TABLE: Mapping[tuple[VisitState, VisitInput], Transition] = MappingProxyType(_VISIT)


def step(state: LegState | VisitState, event: LegInput | VisitInput, subject: str = "") -> Transition | Unexpected:
    """The table's answer for (state, input): a transition, or the unexpected pair."""
    found: Transition | None
    if isinstance(state, LegState) and isinstance(event, LegInput):
        machine, found = "leg", LEG_TABLE.get((state, event))
    elif isinstance(state, VisitState) and isinstance(event, VisitInput):
        machine, found = "visit", VISIT_TABLE.get((state, event))
    else:
        raise TypeError(f"no machine takes {type(event).__name__} in a {type(state).__name__}")
    if found is None:
        return Unexpected(machine, state.value, event.value, subject)
    return found
