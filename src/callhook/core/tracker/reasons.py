"""Reason texts for ended legs: callhook's own table, not Asterisk's.

VOIPEX sends the ISDN/Q.850 cause texts Asterisk uses, with a few differences in
wording that receivers match on (Asterisk prints cause 18 as "No user responding";
the vendor's missed-call reason is "No user response"). The tracker decides the
reason from what the dial said first (DialEnd status: ANSWER elsewhere, NOANSWER,
BUSY, CANCEL) and from the hangup cause second.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ANSWERED_ELSEWHERE",
    "CAUSE_TEXT",
    "NORMAL_CLEARING",
    "NO_ANSWER",
    "NO_USER_RESPONSE",
    "ORIGINATOR_CANCEL",
    "USER_BUSY",
    "reason_for_cause",
]

NORMAL_CLEARING = "Normal Clearing"
USER_BUSY = "User busy"
NO_USER_RESPONSE = "No user response"
NO_ANSWER = "No answer"
ANSWERED_ELSEWHERE = "Answered elsewhere"
# A ringing leg withdrawn because the caller gave up. Q.850 has no text for it;
# Asterisk reports cause 0 (queue legs) or 16 (Dial legs). Documented in docs/events.md.
ORIGINATOR_CANCEL = "Originator cancel"

CAUSE_TEXT: Mapping[int, str] = {
    1: "Unallocated number",
    2: "No route to network",
    3: "No route to destination",
    6: "Channel unacceptable",
    16: NORMAL_CLEARING,
    17: USER_BUSY,
    18: NO_USER_RESPONSE,
    19: NO_ANSWER,
    20: "Subscriber absent",
    21: "Call rejected",
    22: "Number changed",
    26: ANSWERED_ELSEWHERE,
    27: "Destination out of order",
    28: "Invalid number format",
    29: "Facility rejected",
    31: "Normal, unspecified",
    34: "No circuit available",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
    50: "Facility not subscribed",
    57: "Bearer capability not authorized",
    58: "Bearer capability not available",
    65: "Bearer capability not implemented",
    69: "Facility not implemented",
    81: "Invalid call reference",
    88: "Incompatible destination",
    95: "Invalid message",
    96: "Mandatory information element missing",
    102: "Recovery on timer expiry",
    111: "Protocol error",
    127: "Interworking, unspecified",
}


def reason_for_cause(cause: int | None) -> str:
    """The vendor text of a Q.850 cause; unknown and 0 read as Normal Clearing."""
    if cause is None or cause == 0:
        return NORMAL_CLEARING
    return CAUSE_TEXT.get(cause, NORMAL_CLEARING)
