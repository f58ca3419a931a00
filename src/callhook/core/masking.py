"""Number masking: a subscription's requests carry hidden phone numbers.

Pure. :func:`mask_event` returns the event as the subscription's dialect encoder
sees it (the dialect registry applies it before every encode, so each dialect, the
stored request, the attempt log and the test and preview routes all see masked
numbers). Routing still sees the real numbers: filters match before masking.

Fields (:data:`~callhook.core.subscription.MASK_FIELDS`):

``caller``  the caller's number (``party.caller_num``), and in the caller's name
            and the recording name wherever that number appears in them
``called``  the called number (``party.called_num``, the DID of an incoming call),
            also in the recording name
``cdr``     the call record's ``source`` and ``destination``
``agent``   a remote agent's own phone number (``agent.number`` when ``agent_type``
            is ``remote``: Telphin's ``agent_number``); a local agent's is an extension

Modes:

``last_digits``  every digit but the last ``keep`` becomes ``*``; other characters
                 (``+``, spaces) stay: ``+79161234567`` keep 4 -> ``+*******4567``.
                 A number with ``keep`` digits or fewer (an extension) is unchanged.
``hash``         ``n_`` and 16 hex digits of HMAC-SHA256(key, the number's digits):
                 the same number gives the same token for one subscription (so a CRM
                 can still group calls by caller) and a different one for another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re

from callhook.core.events import CallParty, CallRecord, Event
from callhook.core.subscription import Masking

__all__ = ["mask_event", "mask_number"]

_STAMP = re.compile(r"\d{8}-\d{6}-")  # YYYYMMDD-HHMMSS- at the start of a recording name


def mask_number(value: str, masking: Masking) -> str:
    """``value`` masked as ``masking`` says ("" stays "")."""
    digits = "".join(c for c in value if c.isdigit())
    if not digits:
        return value
    if masking.mode == "hash":
        mac = hmac.new(masking.key.encode("utf-8", "surrogatepass"), digits.encode("utf-8"), hashlib.sha256)
        return "n_" + mac.hexdigest()[:16]
    hide = len(digits) - masking.keep
    if hide <= 0:
        return value
    out = []
    for c in value:
        if c.isdigit() and hide > 0:
            out.append("*")
            hide -= 1
        else:
            out.append(c)
    return "".join(out)


def _replace_in(text: str, pairs: dict[str, str], *, skip_stamp: bool = False) -> str:
    head = ""
    if skip_stamp and (m := _STAMP.match(text)):
        head, text = text[: m.end()], text[m.end() :]
    for original in sorted(pairs, key=len, reverse=True):  # the longer number first
        text = text.replace(original, pairs[original])
    return head + text


def mask_event(event: Event, masking: Masking) -> Event:
    """``event`` with the numbers ``masking`` names masked (the same object if none is)."""
    fields = masking.fields
    party = event.party
    swaps: dict[str, str] = {}
    changes: dict[str, str] = {}
    if "caller" in fields and party.caller_num:
        changes["caller_num"] = swaps[party.caller_num] = mask_number(party.caller_num, masking)
    if "called" in fields and party.called_num:
        changes["called_num"] = swaps[party.called_num] = mask_number(party.called_num, masking)
    out = event
    if changes:
        if "caller_num" in changes and party.caller_num in party.caller_name:
            changes["caller_name"] = _replace_in(party.caller_name, {party.caller_num: changes["caller_num"]})
        if party.record_name:
            changes["record_name"] = _replace_in(party.record_name, swaps, skip_stamp=True)
        new_party: CallParty = dataclasses.replace(party, **changes)  # type: ignore[arg-type]
        out = dataclasses.replace(out, party=new_party)
    if "cdr" in fields and event.record is not None:
        rec: CallRecord = event.record
        out = dataclasses.replace(
            out,
            record=dataclasses.replace(
                rec,
                source=mask_number(rec.source, masking),
                destination=mask_number(rec.destination, masking),
            ),
        )
    agent = event.agent
    if "agent" in fields and agent is not None and agent.agent_type == "remote" and agent.number:
        out = dataclasses.replace(out, agent=dataclasses.replace(agent, number=mask_number(agent.number, masking)))
    return out
