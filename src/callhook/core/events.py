"""The canonical event model: what callhook knows happened on the PBX.

Every source (the AMI tracker, the vendor ingest decoders, the simulator) produces
these events and every dialect encoder consumes them, so this module is the one
vocabulary of the project. Events are past-tense facts and immutable.

Envelope (on every event)
    id       unique and time-sortable (ULID text, 26 characters); also the
             Standard Webhooks ``webhook-id`` a receiver de-duplicates on
    type     an :class:`EventType`
    ts       the PBX time of the fact, timezone-aware
    tenant   whose PBX this is (from the directory)
    call_id  the call key: Asterisk's Linkedid ("" for agent events)
    seq      1, 2, 3 ... within the call (within the agent for agent events)

The rest are optional groups; which ones an event carries is listed per type in
docs/events.md. Everything is plain data: strings default to "", never None,
so an encoder can print an unknown value as the vendor documents it (``""``).
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "AgentInfo",
    "CallOutcome",
    "CallParty",
    "CallRecord",
    "Direction",
    "Event",
    "EventType",
    "Hangup",
    "Leg",
    "Presence",
    "PresenceState",
    "QueueCall",
    "Transfer",
    "derived_event_id",
    "new_event_id",
]


class EventType(enum.StrEnum):
    CALL_NEW = "call.new"
    CALL_RINGING = "call.ringing"
    CALL_ANSWERED = "call.answered"
    CALL_PICKUP = "call.pickup"
    CALL_HANGUP = "call.hangup"
    CALL_ENDED = "call.ended"
    CALL_TRANSFER_ATTENDED = "call.transfer.attended"
    CALL_TRANSFER_CANCELLED = "call.transfer.cancelled"
    CALL_TRANSFER_BLIND = "call.transfer.blind"
    CALL_RECORD = "call.record"
    CALL_HOLD = "call.hold"
    CALL_UNHOLD = "call.unhold"
    QUEUE_JOINED = "queue.joined"
    QUEUE_OFFERED = "queue.offered"
    QUEUE_BRIDGED = "queue.bridged"
    QUEUE_MISSED = "queue.missed"
    QUEUE_LEFT = "queue.left"
    AGENT_LOGIN = "agent.login"
    AGENT_LOGOUT = "agent.logout"
    AGENT_PAUSED = "agent.paused"
    AGENT_UNPAUSED = "agent.unpaused"
    AGENT_WRAPUP = "agent.wrapup"
    EXTENSION_PRESENCE = "extension.presence"
    # callhook's own notices (issue 15): a webhook was disabled (410 Gone, or failing
    # for the configured days); only the admin's webhooks that list it get it.
    WEBHOOK_DISABLED = "webhook.disabled"
    # the PBX finished a call's recording (MixMonitor's file, reported at the call's end)
    CALL_RECORDING = "call.recording"

    @property
    def is_agent(self) -> bool:
        return self.value.startswith("agent.")

    @property
    def is_queue(self) -> bool:
        return self.value.startswith("queue.")

    @property
    def is_extension(self) -> bool:
        return self.value.startswith("extension.")


class Direction(enum.StrEnum):
    """VOIPEX's directions: seen from the PBX."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    INCOMING_LOCAL = "incomingLocal"
    OUTGOING_LOCAL = "outgoingLocal"
    BARGE = "barge"


@dataclass(frozen=True, slots=True)
class CallParty:
    """Who calls whom: the call-level facts every call event repeats.

    ``caller_type`` is PBX2IS's: ``internal`` (an extension calls), ``external``
    (the outside world calls in) or ``originate`` (click-to-dial).
    ``record_name`` is ``YYYYMMDD-HHMMSS-<caller>-<called>`` from the call start.
    """

    caller_num: str = ""
    caller_name: str = ""
    called_num: str = ""
    direction: Direction | None = None
    caller_type: str = ""
    record_name: str = ""


@dataclass(frozen=True, slots=True)
class Leg:
    """One extension's part of a call (a ringing/answered/ended channel).

    ``number`` is the extension (VOIPEX ``Line``); name/login/email come from the
    directory; ``leg_id`` is the channel's Uniqueid; ``channel`` its name.
    """

    number: str = ""
    name: str = ""
    login: str = ""
    email: str = ""
    leg_id: str = ""
    channel: str = ""
    # True for the outside party of an outgoing call (a trunk channel): number,
    # name, login and email then describe the extension on whose behalf it rings,
    # as VOIPEX's outgoing Ringing does (Line = the calling extension).
    external: bool = False


@dataclass(frozen=True, slots=True)
class Hangup:
    """Why a leg ended: the vendor reason text and the Q.850 cause code.

    ``answered`` tells whether the leg had been answered (talked) before it ended.
    """

    reason: str = ""
    cause: int | None = None
    answered: bool = False


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer: who transferred (``transferer``) the call to which target."""

    transferer: str = ""
    target: str = ""
    kind: str = ""  # "attended" | "blind"


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """The end of the whole call (PBX2IS ``endcall``)."""

    answered: bool = False
    answering_exten: str = ""
    last_dial_answered: bool = False
    last_dialed_exten: str = ""
    missed: bool = False


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The call detail record callhook builds when the whole call has ended.

    Times are timezone-aware; ``answer`` is None when nobody answered.
    ``disposition`` is Asterisk's: ANSWERED, NO ANSWER, BUSY, FAILED.
    """

    start: datetime
    end: datetime
    answer: datetime | None = None
    duration: int = 0
    billsec: int = 0
    disposition: str = ""
    answered_by: str = ""
    source: str = ""
    destination: str = ""


@dataclass(frozen=True, slots=True)
class QueueCall:
    """Call-centre facts of a queued call (Webitel's fields).

    Durations are seconds (float). ``member_channel_id`` is the caller's channel
    (Uniqueid), ``agent_channel_id`` the agent leg's. ``cc_result`` on leaving:
    success, abandoned or cancel. ``wait`` is the time spent in the queue.
    """

    member_channel_id: str = ""
    agent_channel_id: str = ""
    attempt_seq: int = 0
    position: int = 0
    wait: float = 0.0
    call_duration: float = 0.0
    call_bill_sec: float = 0.0
    call_voice_sec: float = 0.0
    cc_result: str = ""
    call_cause: str = ""
    call_sip_code: int | None = None
    use_processing: bool = False
    amd_result: str = ""  # HUMAN | MACHINE when the dial plan ran AMD(); "" otherwise


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent (queue member) as agent events describe it.

    ``agent_type`` is Telphin's local/remote; ``number`` is the extension for a
    local agent or the external number (Telphin ``agent_number``) for a remote one.
    ``event_source``: ``api`` when the change was made through callhook, else ``phone``.
    """

    login: str = ""
    number: str = ""
    name: str = ""
    email: str = ""
    interface: str = ""
    agent_type: str = "local"
    extension_name: str = ""
    pause_reason: str = ""
    event_source: str = "phone"
    agent_id: str = ""  # the agent's id in a vendor system (Telphin agent_id); "" when unknown


class PresenceState(enum.StrEnum):
    """An extension's presence, from Asterisk's hint state (ExtensionStatus)."""

    IDLE = "idle"
    RINGING = "ringing"
    IN_USE = "in_use"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    ON_HOLD = "on_hold"


@dataclass(frozen=True, slots=True)
class Presence:
    """``extension.presence``: the extension ``number`` is now ``state``.

    ``status`` is Asterisk's numeric hint state (0 idle, 1 in use, 2 busy, 4
    unavailable, 8 ringing, 9 in use and ringing, 16 on hold, 17 in use and on hold,
    -1 / -2 the hint removed / deactivated); ``previous`` the state before ("" the first time).
    """

    number: str = ""
    state: str = ""
    previous: str = ""
    status: int = 0
    name: str = ""
    login: str = ""
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: EventType
    ts: datetime
    tenant: str = ""
    call_id: str = ""
    seq: int = 0
    party: CallParty = field(default_factory=CallParty)
    leg: Leg | None = None
    hangup: Hangup | None = None
    queue: str = ""
    custom_field: str = ""
    transfer: Transfer | None = None
    outcome: CallOutcome | None = None
    record: CallRecord | None = None
    queue_call: QueueCall | None = None
    agent: AgentInfo | None = None
    presence: Presence | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    source: str = "ami"  # ami | ingest:<dialect> | simulator
    pbx: str = ""  # the name of the PBX the event came from (AMI sources); "" for ingested events

    def __hash__(self) -> int:
        return hash(self.id)


# ---------------------------------------------------------------------------- ids
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(ms: int, rand: bytes | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32.

    Sortable by time as text; ``ms`` is passed in (the core reads no clock).
    ``rand`` (10 bytes) may be given for reproducible ids; otherwise os.urandom.
    """
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"ULID time out of range: {ms}")
    r = rand if rand is not None else os.urandom(10)
    if len(r) != 10:
        raise ValueError("ULID randomness must be 10 bytes")
    n = (ms << 80) | int.from_bytes(r, "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[n & 31])
        n >>= 5
    return "".join(reversed(out))


def derived_event_id(ms: int, pbx: str, scope: str, key: str, etype: str, seq: int) -> str:
    """A ULID whose 80 low bits are not random but derived from what the event *is*.

    ``pbx`` is the PBX's name (ids of two PBXs never meet), ``scope`` what ``key``
    names (``call``: the Linkedid; ``agent``: the agent's login or number;
    ``presence``: the extension), ``etype`` the event type and ``seq`` its place in
    that key's sequence. The same fact derived twice (two readers of one PBX, or a
    reader taking over after another died) gets the same id, so the store keeps it
    once and a receiver sees one ``webhook-id``. ``ms`` stays the time prefix (the
    PBX's own timestamp of the event), so ids still sort by time as text.
    """
    material = "\x1f".join((pbx, scope, key, etype, str(seq))).encode("utf-8", "surrogatepass")
    return new_event_id(ms if 0 <= ms < 1 << 48 else 0, hashlib.blake2b(material, digest_size=10).digest())


def ulid_ms(event_id: str) -> int:
    """The millisecond time a ULID was made at."""
    n = 0
    for ch in event_id[:10]:
        n = (n << 5) | _CROCKFORD.index(ch.upper())
    return n
