"""Scripts of ordinary calls: inbound to an extension, outbound, internal, click-to-dial.

Each script is a generator over a :class:`~.pbx.Pbx` (see :mod:`.engine`): it makes
the channel changes the lab's dial plan makes (README of the fixtures: ``Dial(IAX2/<ext>,25,t)``,
outbound ``Dial(IAX2/trunk/<n>,10,T)`` behind prefix ``0``, ``Hangup(19)`` on NOANSWER,
``Busy`` on BUSY) and yields the seconds until its next step. The building blocks
(:func:`trunk_in`, :func:`ring`, :func:`answer`, :func:`end_bridged`) are shared with
the queue and transfer scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callhook.sources.simulator.engine import Script
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import UNKNOWN, Bridge, Channel, channel_block

__all__ = [
    "AfterAnswer",
    "Dialled",
    "answer",
    "click2dial",
    "end_bridged",
    "inbound_direct",
    "internal",
    "outbound",
    "pickup",
    "ring",
    "trunk_in",
]

# what happens once a call is answered, instead of talking and hanging up (transfers)
AfterAnswer = Callable[[Pbx, Bridge, Channel, Channel], Script]
RING_STATE_DELAY = 0.003  # the DialState RINGING follows the DialBegin by a few ms
_DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


@dataclass(slots=True)
class Dialled:
    """A Dial in progress: who dials, the ringing channel, when it started (for the CDR)."""

    src: Channel | None
    dst: Channel
    start: float
    app: str
    data: str
    destination: str
    dest_context: str


def trunk_in(pbx: Pbx, key: str, caller: str, did: str) -> Channel:
    """A call from the PSTN arrives on the trunk (state Ring, context from-pstn)."""
    ch = pbx.new_channel(pbx.trunk()[0], key, state="Ring", cid=(caller, caller), context="from-pstn", exten=did)
    pbx.app(ch, "from-pstn", did, 1, "NoOp", f"DID {did}")
    pbx.app(ch, "from-pstn", did, 2, "Set", f"__DID={did}")
    pbx.varset(ch, "__DID", did)
    return ch


def ring(
    pbx: Pbx,
    src: Channel | None,
    device: str,
    *,
    key: str,
    linkedid: str,
    cid: tuple[str, str],
    cl: tuple[str, str],
    context: str,
    exten: str,
    dialstring: str,
    dialed: str = "",
) -> Channel:
    """Dial one destination: its channel is made, rings, and DialBegin is sent."""
    if src is not None:
        for var in _DIAL_VARS:  # Dial() clears its result variables first
            pbx.varset(src, var, "")
    dst = pbx.new_channel(device, key, linkedid=linkedid)
    if dialed:
        pbx.varset(dst, "DIALEDPEERNUMBER", dialed)
    if src is not None:
        pbx.inherit(src, dst)
    dst.context, dst.exten = "", exten
    dst.cl_num, dst.cl_name = cl
    if cid[0] != UNKNOWN:
        pbx.set_callerid(dst, *cid)
    pbx.set_connected(dst, *cl)
    dst.context = context
    pbx.set_state(dst, "Ringing")
    pbx.dial("DialBegin", src, dst, ("DialString", dialstring))
    return dst


def answer(pbx: Pbx, d: Dialled, *, keep_exten: bool = False) -> Bridge:
    """The destination answers: Newstate Up, DialEnd ANSWER, the caller is answered, both are bridged."""
    src, dst = d.src, d.dst
    pbx.set_state(dst, "Up")
    if src is not None:
        pbx.varset(src, "DIALSTATUS", "ANSWER")
        pbx.varset(src, "DIALEDPEERNAME", dst.name)
    if not keep_exten:
        dst.exten = ""
    pbx.dial("DialEnd", src, dst, ("DialStatus", "ANSWER"))
    if src is not None and src.state != "Up":
        pbx.set_state(src, "Up")
    b = pbx.bridge_create()
    pbx.bridge_enter(b, dst)
    if src is not None:
        pbx.bridge_enter(b, src)
    return b


def end_bridged(pbx: Pbx, b: Bridge, first: Channel, second: Channel, cdrs: list[Dialled], cause: int = 16) -> None:
    """``first`` hangs up a two-party bridge: both leave, the bridge goes, the CDRs come before the last Hangup."""
    pbx.request_hangup(first, cause)
    pbx.unbridge(b, [first, second])
    pbx.hangup(first, cause, request=False)
    write_cdrs(pbx, cdrs, "ANSWERED")
    pbx.request_hangup(second, cause)
    pbx.hangup(second, cause, request=False)


def write_cdrs(pbx: Pbx, cdrs: list[Dialled], disposition: str) -> None:
    """One Cdr per dialled destination; an unanswered one is NO ANSWER whatever the call did."""
    for d in cdrs:
        src = d.src if d.src is not None else d.dst
        answered = d.dst.answered_at
        disp = "NO ANSWER" if answered is None and disposition == "ANSWERED" else disposition
        pbx.cdr(
            src,
            d.dst if d.src is not None else None,
            destination=d.destination,
            dest_context=d.dest_context,
            app=d.app,
            data=d.data,
            start=d.start,
            answer=answered,
            end=pbx.now,
            disposition=disp,
        )


def inbound_direct(
    pbx: Pbx,
    key: str,
    *,
    caller: str,
    did: str,
    exten: str,
    outcome: str = "answer",
    ring_s: float = 2.0,
    talk_s: float = 3.5,
    hangup_by: str = "callee",
    after_answer: AfterAnswer | None = None,
    timeout_s: float = 25.0,
    picked_by: str = "",
) -> Script:
    """PSTN -> DID -> ``Dial(IAX2/<exten>,25,t)``. outcome: answer | busy | abandon | noanswer.

    ``picked_by``: after ``ring_s`` that extension takes the call with ``**<exten>`` (directed pickup).
    """
    src = trunk_in(pbx, key, caller, did)
    device = pbx.extension_device(exten)
    pbx.app(src, "from-pstn", did, 3, "Goto", f"ext-local,{exten},1")
    pbx.app(src, "ext-local", exten, 1, "NoOp", f'Call to extension {exten} from "{caller}" <{caller}>')
    pbx.app(src, "ext-local", exten, 2, "Set", f"__PICKUPMARK={exten}")
    pbx.varset(src, "__PICKUPMARK", exten)
    data = f"{device},{int(timeout_s)},t"
    pbx.app(src, "ext-local", exten, 3, "Dial", data)
    start = src.created
    dst = ring(
        pbx,
        src,
        device,
        key=key,
        linkedid=src.linkedid,
        cid=(exten, UNKNOWN),
        cl=(caller, caller),
        context="from-internal",
        exten=exten,
        dialstring=exten,
        dialed=exten,
    )
    d = Dialled(src, dst, start, "Dial", data, exten, "ext-local")
    yield RING_STATE_DELAY
    if outcome == "busy":
        pbx.dial("DialEnd", src, dst, ("DialStatus", "BUSY"))
        pbx.hangup(dst, 17)
        pbx.app(src, "ext-local", exten, 6, "Busy", "5")
        pbx.set_state(src, "Busy")
        write_cdrs(pbx, [d], "BUSY")
        pbx.hangup(src, 17)
        return
    pbx.dial("DialState", src, dst, ("DialStatus", "RINGING"))
    if outcome in ("abandon", "noanswer"):
        yield ring_s if outcome == "abandon" else timeout_s
        status = "CANCEL" if outcome == "abandon" else "NOANSWER"
        if outcome == "abandon":
            pbx.request_hangup(src, 16)  # the caller hangs up: Asterisk says so before cancelling the dial
            write_cdrs(pbx, [d], "NO ANSWER")
        pbx.dial("DialEnd", src, dst, ("DialStatus", status))
        pbx.hangup(dst, 16 if outcome == "abandon" else 0)
        if outcome == "noanswer":
            pbx.app(src, "ext-local", exten, 5, "Hangup", "19")
            write_cdrs(pbx, [d], "NO ANSWER")
        pbx.hangup(src, 16 if outcome == "abandon" else 19)
        return
    yield ring_s
    if picked_by:
        b, dst = pickup(pbx, d, picked_by)
    else:
        b = answer(pbx, d)
    if after_answer is not None:
        yield from after_answer(pbx, b, src, dst)
        return
    yield talk_s
    first, second = (dst, src) if hangup_by == "callee" else (src, dst)
    end_bridged(pbx, b, first, second, [d])


def pickup(pbx: Pbx, d: Dialled, picker: str) -> tuple[Bridge, Channel]:
    """Directed pickup ``**<exten>``: the picker's channel takes the ringing leg's place in the call
    (it shows with the call's Linkedid from then on); the ringing leg ends with cause 26."""
    src, target = d.src, d.dst
    assert src is not None
    ext = pbx.directory.extension(picker)
    name = ext.name if ext is not None and ext.name else UNKNOWN
    feature = f"**{target.exten}"
    ch = pbx.new_channel(
        pbx.extension_device(picker), src.call, state="Ring", cid=(picker, name), context="from-internal", exten=feature
    )
    pbx.app(ch, "from-internal", feature, 1, "Pickup", f"{target.exten}@PICKUPMARK")
    pbx.emit("Pickup", channel_block(ch), channel_block(target, "Target"))
    ch.linkedid, ch.cl_num, ch.cl_name = src.linkedid, src.cid_num, src.cid_name
    pbx.set_state(ch, "Up")
    pbx.hangup(target, 26)
    pbx.set_state(src, "Up")
    b = pbx.bridge_create()
    pbx.bridge_enter(b, ch)
    pbx.bridge_enter(b, src)
    return b, ch


def outbound(
    pbx: Pbx,
    key: str,
    *,
    exten: str,
    number: str,
    answered: bool = True,
    ring_s: float = 2.0,
    talk_s: float = 3.0,
    timeout_s: float = 10.0,
    hangup_by: str = "caller",
) -> Script:
    """An extension dials ``<prefix><number>``: ``Dial(IAX2/trunk/<number>,10,T)``."""
    device, peer, prefix = pbx.trunk()
    ext = pbx.directory.extension(exten)
    name = ext.name if ext is not None and ext.name else UNKNOWN
    dialled = prefix + number
    src = pbx.new_channel(
        pbx.extension_device(exten), key, state="Ring", cid=(exten, name), context="from-internal", exten=dialled
    )
    data = f"{device}/{number},{int(timeout_s)},T"
    pbx.app(src, "from-internal", dialled, 1, "Dial", data)
    dst = ring(
        pbx,
        src,
        device,
        key=key,
        linkedid=src.linkedid,
        cid=(dialled, UNKNOWN),
        cl=(exten, name),
        context="from-pstn",
        exten=dialled,
        dialstring=f"{peer}/{number}",
    )
    d = Dialled(src, dst, src.created, "Dial", data, dialled, "from-internal")
    yield RING_STATE_DELAY
    pbx.dial("DialState", src, dst, ("DialStatus", "RINGING"))
    if not answered:
        yield timeout_s
        pbx.dial("DialEnd", src, dst, ("DialStatus", "NOANSWER"))
        pbx.hangup(dst, 0)
        pbx.app(src, "from-internal", dialled, 3, "Hangup", "19")
        write_cdrs(pbx, [d], "NO ANSWER")
        pbx.hangup(src, 19)
        return
    yield ring_s
    src.priority = 2
    b = answer(pbx, d)
    yield talk_s
    first, second = (src, dst) if hangup_by == "caller" else (dst, src)
    end_bridged(pbx, b, first, second, [d])


def internal(
    pbx: Pbx,
    key: str,
    *,
    exten: str,
    callee: str,
    ring_s: float = 2.0,
    talk_s: float = 3.0,
    hangup_by: str = "caller",
    answered: bool = True,
    timeout_s: float = 25.0,
) -> Script:
    """Extension to extension: ``Dial(IAX2/<callee>,25,t)``."""
    ext = pbx.directory.extension(exten)
    name = ext.name if ext is not None and ext.name else UNKNOWN
    src = pbx.new_channel(
        pbx.extension_device(exten), key, state="Ring", cid=(exten, name), context="from-internal", exten=callee
    )
    device = pbx.extension_device(callee)
    data = f"{device},{int(timeout_s)},t"
    pbx.app(src, "from-internal", callee, 1, "Dial", data)
    dst = ring(
        pbx,
        src,
        device,
        key=key,
        linkedid=src.linkedid,
        cid=(callee, UNKNOWN),
        cl=(exten, name),
        context="from-internal",
        exten=callee,
        dialstring=callee,
        dialed=callee,
    )
    d = Dialled(src, dst, src.created, "Dial", data, callee, "from-internal")
    yield RING_STATE_DELAY
    pbx.dial("DialState", src, dst, ("DialStatus", "RINGING"))
    if not answered:
        yield timeout_s
        pbx.dial("DialEnd", src, dst, ("DialStatus", "NOANSWER"))
        pbx.hangup(dst, 0)
        write_cdrs(pbx, [d], "NO ANSWER")
        pbx.hangup(src, 19)
        return
    yield ring_s
    src.priority = 3
    b = answer(pbx, d)
    yield talk_s
    first, second = (src, dst) if hangup_by == "caller" else (dst, src)
    end_bridged(pbx, b, first, second, [d])


def click2dial(
    pbx: Pbx,
    key: str,
    *,
    exten: str,
    number: str,
    action_id: str = "",
    ring_s: float = 1.0,
    answer_s: float = 2.0,
    talk_s: float = 3.5,
    hangup_by: str = "callee",
    cid_name: str = "Click2Dial",
) -> Script:
    """AMI Originate: the extension rings first (showing the number), then the number is dialled."""
    device, peer, _ = pbx.trunk()
    ext_ch = pbx.new_channel(pbx.extension_device(exten), key)
    pbx.varset(ext_ch, "C2D_EXTEN", exten, always=True)
    ext_ch.context = ""
    pbx.set_callerid(ext_ch, number, cid_name)
    ext_ch.cl_num, ext_ch.cl_name, ext_ch.context = number, cid_name, "from-internal"
    pbx.set_state(ext_ch, "Ringing")
    pbx.dial("DialBegin", None, ext_ch, ("DialString", exten))
    yield RING_STATE_DELAY
    pbx.dial("DialState", None, ext_ch, ("DialStatus", "RINGING"))
    yield ring_s
    pbx.set_state(ext_ch, "Up")
    pbx.dial("DialEnd", None, ext_ch, ("DialStatus", "ANSWER"))
    ext_ch.context, ext_ch.exten, ext_ch.priority = "click2dial", number, 2
    pbx.set_callerid(ext_ch, exten, cid_name)
    data = f"{device}/{number},60,T"
    pbx.app(ext_ch, "click2dial", number, 2, "Dial", data)
    pbx.emit(
        "OriginateResponse",
        [
            ("ActionID", action_id),
            ("Response", "Success"),
            ("Channel", ext_ch.name),
            ("Context", "click2dial"),
            ("Exten", number),
            ("Reason", "4"),
            ("Uniqueid", ext_ch.uid),
            ("CallerIDNum", number),
            ("CallerIDName", cid_name),
        ],
    )
    dst = ring(
        pbx,
        ext_ch,
        device,
        key=key,
        linkedid=ext_ch.linkedid,
        cid=(number, cid_name),
        cl=(exten, cid_name),
        context="from-pstn",
        exten=number,
        dialstring=f"{peer}/{number}",
    )
    d = Dialled(ext_ch, dst, ext_ch.created, "Dial", data, number, "click2dial")
    yield RING_STATE_DELAY
    pbx.dial("DialState", ext_ch, dst, ("DialStatus", "RINGING"))
    yield answer_s
    b = answer(pbx, d)
    yield talk_s
    ext_ch.priority = 4
    first_, second = (dst, ext_ch) if hangup_by == "callee" else (ext_ch, dst)
    end_bridged(pbx, b, first_, second, [d])
