"""What the simulated Asterisk answers to each AMI action of a session.

:meth:`ActionHandler.handle` takes one action and returns the messages for that
session (the Response, and the events of a list action); events that the action
causes on the PBX go to every session through the server's flush, in time order.
Answers copy Asterisk 23's wording, e.g. a repeated ``QueueAdd`` is ``Response:
Error`` / ``Message: Unable to add interface: Already there`` and sends no event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator import status
from callhook.sources.simulator.filters import FilterError
from callhook.sources.simulator.shapes import stamp

if TYPE_CHECKING:
    from callhook.sources.simulator.server import Session, SimulatorServer

__all__ = ["ActionHandler"]

Handler = Callable[["Session", AmiMessage, str], list[AmiMessage]]
_TRUE = ("1", "true", "yes", "on")


def _response(action_id: str, ok: bool, message: str = "", *extra: tuple[str, str]) -> AmiMessage:
    head = [("Response", "Success" if ok else "Error")] + ([("ActionID", action_id)] if action_id else [])
    return AmiMessage(tuple(head) + ((("Message", message),) if message else ()) + extra)


class ActionHandler:
    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.sim = server.sim
        self._table: dict[str, Handler] = {
            "ping": self._ping,
            "logoff": self._logoff,
            "events": self._events,
            "filter": self._filter,
            "coreshowchannels": self._channels,
            "queuestatus": self._queue_status,
            "originate": self._originate,
            "hangup": self._hangup,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
        }

    def handle(self, session: Session, msg: AmiMessage) -> list[AmiMessage]:
        name, action_id = msg.get("Action").lower(), msg.action_id
        if name == "login":
            return self._login(session, msg, action_id)
        if not session.logged_in:
            return [_response(action_id, False, "Authentication Required")]
        handler = self._table.get(name)
        if handler is None:
            return [_response(action_id, False, "Invalid/unknown command")]
        return handler(session, msg, action_id)

    # ------------------------------------------------------------- session
    def _login(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        if not self.server.check_login(msg.get("Username"), msg.get("Secret")):
            return [_response(action_id, False, "Authentication failed")]
        session.logged_in = True
        session.events = msg.get("Events", "on").lower() != "off"
        booted = AmiMessage(
            (
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", "0"),
                ("LastReload", "0"),
                ("Status", "Fully Booted"),
            )
        )
        return [_response(action_id, True, "Authentication accepted"), booted]

    def _ping(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        return [_response(action_id, True, "", ("Ping", "Pong"), ("Timestamp", stamp(self.server.sim_now())))]

    def _logoff(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        head = (("Response", "Goodbye"),) + ((("ActionID", action_id),) if action_id else ())
        return [AmiMessage((*head, ("Message", "Thanks for all the fish.")))]

    def _events(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        session.events = msg.get("EventMask", "on").lower() != "off"
        return [_response(action_id, True, "", ("Events", "On" if session.events else "Off"))]

    def _filter(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        if msg.get("Operation", "Add").lower() != "add":
            return [_response(action_id, False, "Unknown operation")]
        try:
            session.filters.add(msg.get("Filter"), msg.get("MatchCriteria"))
        except FilterError as exc:
            return [_response(action_id, False, str(exc))]
        return [_response(action_id, True, "Filter Added Successfully")]

    # ---------------------------------------------------------------- lists
    def _list(self, action_id: str, message: str, items: list[AmiMessage]) -> list[AmiMessage]:
        return [_response(action_id, True, message, ("EventList", "start")), *items]

    def _channels(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        return self._list(action_id, "Channels will follow", status.core_show_channels(self.sim.pbx, action_id))

    def _queue_status(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        items = status.queue_status(self.sim.pbx, action_id, msg.get("Queue"), msg.get("Member"))
        return self._list(action_id, "Queue status will follow", items)

    # -------------------------------------------------------------- changes
    def _originate(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        ext = self.sim.pbx.directory.extension_of_channel(msg.get("Channel") + "-0")
        number = msg.get("Exten")
        if ext is None or not number:
            return [_response(action_id, False, "Originate failed")]
        self.server.flush()
        self.sim.originate(ext.number, number, action_id)
        self.server.wake()
        return [_response(action_id, True, "Originate successfully queued")]

    def _hangup(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        target = msg.get("Channel")
        try:
            cause = int(msg.get("Cause") or 16)
        except ValueError:
            cause = 16
        self.server.flush()
        names = [c.name for c in self.sim.pbx.channels.values()]
        if len(target) > 2 and target.startswith("/") and target.endswith("/"):
            pattern = re.compile(target[1:-1])
            hit = [n for n in names if pattern.search(n)]
        else:
            hit = [n for n in names if n == target]
        if not hit:
            return [_response(action_id, False, "No such channel")]
        for name in hit:
            self.sim.hangup(name, cause)
        self.server.flush()
        return [_response(action_id, True, "Channel Hungup")]

    def _queue_add(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        queue, interface = msg.get("Queue"), msg.get("Interface")
        if self.sim.pbx.directory.queue(queue) is None:
            return [_response(action_id, False, "Unable to add interface to queue: No such queue")]
        self.server.flush()
        paused = msg.get("Paused").lower() in _TRUE
        if not self.sim.queue_add(queue, interface, msg.get("MemberName"), paused, msg.get("Reason")):
            return [_response(action_id, False, "Unable to add interface: Already there")]
        self.server.flush()
        return [_response(action_id, True, "Added interface to queue")]

    def _queue_remove(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        if not self.sim.queue_remove(msg.get("Queue"), msg.get("Interface")):
            return [_response(action_id, False, "Unable to remove interface: Not there")]
        self.server.flush()
        return [_response(action_id, True, "Removed interface from queue")]

    def _queue_pause(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        paused = msg.get("Paused").lower() in _TRUE
        self.server.flush()
        if not self.sim.queue_pause(msg.get("Interface"), paused, msg.get("Queue"), msg.get("Reason")):
            return [_response(action_id, False, "Interface not found")]
        self.server.flush()
        return [_response(action_id, True, f"Interface {'paused' if paused else 'unpaused'} successfully")]
