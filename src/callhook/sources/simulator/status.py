"""The answers of list actions built from the live model: CoreShowChannels, QueueStatus.

Each returns the events of the list, ActionID included, ending with the
``...Complete`` event (``EventList: Complete``, ``ListItems``) as Asterisk 23 does.
"""

from __future__ import annotations

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import channel_block

__all__ = ["core_show_channels", "queue_status"]


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
