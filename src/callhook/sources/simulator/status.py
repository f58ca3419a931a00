"""The answers of list actions built from the live model: CoreShowChannels, QueueStatus, QueueSummary, Status.

Each returns the events of the list, ActionID included, ending with the
``...Complete`` event (``EventList: Complete``, ``ListItems``) as Asterisk 23 does.
"""

from __future__ import annotations

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import Channel, channel_block

__all__ = ["core_show_channels", "queue_status", "queue_summary", "status"]


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _msg(name: str, action_id: str, *pairs: tuple[str, str]) -> AmiMessage:
    head = [("Event", name)] + ([("ActionID", action_id)] if action_id else [])
    return AmiMessage(tuple(head) + pairs)


def core_show_channels(pbx: Pbx, action_id: str) -> list[AmiMessage]:
    out = [
        _msg(
            "CoreShowChannel",
            action_id,
            *channel_block(ch),
            ("Application", ch.application),
            ("ApplicationData", ch.app_data),
            ("Duration", _hms(pbx.now - ch.created)),
            ("BridgeId", ch.bridge),
        )
        for ch in pbx.channels.values()
    ]
    out.append(_msg("CoreShowChannelsComplete", action_id, ("EventList", "Complete"), ("ListItems", str(len(out)))))
    return out


def queue_status(pbx: Pbx, action_id: str, queue: str = "", member: str = "") -> list[AmiMessage]:
    out: list[AmiMessage] = []
    for q in pbx.directory.queues:
        if queue and q.name != queue:
            continue
        waiting = pbx.waiting.get(q.name, [])
        members = [m for m in pbx.members.values() if m.queue == q.name]
        out.append(
            _msg(
                "QueueParams",
                action_id,
                ("Queue", q.name),
                ("Max", "0"),
                ("Strategy", q.strategy),
                ("Calls", str(len(waiting))),
                ("Holdtime", "0"),
                ("TalkTime", "0"),
                ("Completed", str(sum(m.calls_taken for m in members))),
                ("Abandoned", "0"),
                ("ServiceLevel", str(q.service_level)),
                ("ServicelevelPerf", "0.0"),
                ("ServicelevelPerf2", "0.0"),
                ("Weight", "0"),
            )
        )
        for m in members:
            if member and m.interface.lower() != member.lower() and m.name != member:
                continue
            out.append(
                _msg(
                    "QueueMember",
                    action_id,
                    ("Queue", q.name),
                    ("Name", m.name),
                    ("Location", m.interface),
                    ("StateInterface", m.interface),
                    ("Membership", m.membership),
                    ("Penalty", "0"),
                    ("CallsTaken", str(m.calls_taken)),
                    ("LastCall", str(m.last_call)),
                    ("LastPause", str(m.last_pause)),
                    ("LoginTime", str(m.login_time)),
                    ("InCall", "1" if m.in_call else "0"),
                    ("Status", str(m.status)),
                    ("Paused", "1" if m.paused else "0"),
                    ("PausedReason", m.reason if m.paused else ""),
                    ("Wrapuptime", "0"),
                )
            )
        for pos, uid in enumerate(waiting, 1):
            ch = pbx.channels.get(uid)
            if ch is None:
                continue
            out.append(
                _msg(
                    "QueueEntry",
                    action_id,
                    ("Queue", q.name),
                    ("Position", str(pos)),
                    ("Channel", ch.name),
                    ("Uniqueid", ch.uid),
                    ("CallerIDNum", ch.cid_num),
                    ("CallerIDName", ch.cid_name),
                    ("ConnectedLineNum", ch.cl_num),
                    ("ConnectedLineName", ch.cl_name),
                    ("Wait", str(int(pbx.now - ch.created))),
                    ("Priority", "0"),
                )
            )
    out.append(_msg("QueueStatusComplete", action_id, ("EventList", "Complete"), ("ListItems", str(len(out)))))
    return out


# app_queue's member_status_available(): AST_DEVICE_UNKNOWN (0) or AST_DEVICE_NOT_INUSE (1)
_AVAILABLE = (0, 1)
_GONE = (4, 5)  # AST_DEVICE_INVALID, AST_DEVICE_UNAVAILABLE: not counted as logged in


def queue_summary(pbx: Pbx, action_id: str, queue: str = "") -> list[AmiMessage]:
    """``QueueSummary``: per queue, members logged in and available, callers, the longest wait."""
    out: list[AmiMessage] = []
    for q in pbx.directory.queues:
        if queue and q.name.lower() != queue.lower():
            continue
        members = [m for m in pbx.members.values() if m.queue == q.name and m.status not in _GONE]
        waiting = [pbx.channels[u] for u in pbx.waiting.get(q.name, []) if u in pbx.channels]
        longest = max((int(pbx.now - ch.created) for ch in waiting), default=0)
        out.append(
            _msg(
                "QueueSummary",
                "",
                ("Queue", q.name),
                ("LoggedIn", str(len(members))),
                ("Available", str(sum(1 for m in members if m.status in _AVAILABLE and not m.paused))),
                ("Callers", str(len(waiting))),
                ("HoldTime", "0"),
                ("TalkTime", "0"),
                ("LongestHoldTime", str(longest)),
                *((("ActionID", action_id),) if action_id else ()),
            )
        )
    out.append(_msg("QueueSummaryComplete", action_id, ("EventList", "Complete"), ("ListItems", str(len(out)))))
    return out


def status(pbx: Pbx, action_id: str, channel: str = "", variables: tuple[str, ...] = ()) -> list[AmiMessage] | None:
    """``Status``: one ``Status`` event per channel (or the one named), then ``StatusComplete``.

    None when a channel is named and does not exist (Asterisk: ``No such channel``).
    """
    chans = list(pbx.channels.values())
    if channel:
        chans = [ch for ch in chans if ch.name.lower() == channel.lower()]
        if not chans:
            return None
    out: list[AmiMessage] = []
    for ch in chans:
        bridge = pbx.bridges.get(ch.bridge)
        others = [pbx.channels[u] for u in bridge.members if u != ch.uid and u in pbx.channels] if bridge else []
        peer = others[0] if others else None
        out.append(
            AmiMessage(
                (
                    ("Event", "Status"),
                    ("Privilege", "Call"),
                    *channel_block(ch),
                    ("Type", ch.device.split("/", 1)[0]),
                    ("DNID", ""),
                    ("EffectiveConnectedLineNum", peer.cid_num if peer else ch.cl_num),
                    ("EffectiveConnectedLineName", peer.cid_name if peer else ch.cl_name),
                    ("TimeToHangup", "0"),
                    ("BridgeID", ch.bridge),
                    ("Application", ch.application),
                    ("Data", ch.app_data),
                    ("Nativeformats", "(ulaw)"),
                    ("Readformat", "ulaw"),
                    ("Readtrans", ""),
                    ("Writeformat", "ulaw"),
                    ("Writetrans", ""),
                    ("Callgroup", "0"),
                    ("Pickupgroup", "0"),
                    ("Seconds", str(int(pbx.now - ch.created))),
                    *(("Variable", f"{v}={variable(ch, v)}") for v in variables),
                    *((("ActionID", action_id),) if action_id else ()),
                )
            )
        )
    done = _msg("StatusComplete", action_id, ("EventList", "Complete"), ("ListItems", str(len(out))))
    out.append(AmiMessage((*done.headers, ("Items", str(len(out))))))
    return out


def variable(ch: Channel, name: str) -> str:
    """A channel variable as ``Getvar`` reads it: set variables (``__x`` is ``x``) and the builtins."""
    builtins = {
        "CHANNEL": ch.name,
        "UNIQUEID": ch.uid,
        "EXTEN": ch.exten,
        "CONTEXT": ch.context,
        "PRIORITY": str(ch.priority),
        "CALLERID(num)": ch.cid_num,
        "CALLERID(name)": ch.cid_name,
        "CONNECTEDLINE(num)": ch.cl_num,
        "CONNECTEDLINE(name)": ch.cl_name,
        "CHANNEL(linkedid)": ch.linkedid,
        "CHANNEL(state)": ch.state,
    }
    if name in builtins:
        return builtins[name]
    return ch.values.get(name.lstrip("_"), "")
