"""What the simulated Asterisk answers to each AMI action of a session.

:meth:`ActionHandler.handle` takes one action and returns the messages for that
session (the Response, and the events of a list action); events that the action
causes on the PBX go to every session through the server's flush, in time order.
Answers copy Asterisk 23's ``main/manager.c`` and ``apps/app_queue.c``: the same
headers in the same order, the same wording (a repeated ``QueueAdd`` is ``Response:
Error`` / ``Message: Unable to add interface: Already there`` and sends no event;
an action before login is ``Permission denied``). Session-level actions (Login,
Challenge, Events, Filter, the read-only queries) are here; :mod:`.cli_commands`
answers ``Command``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator import status
from callhook.sources.simulator.classes import parse_mask
from callhook.sources.simulator.cli_commands import run_command
from callhook.sources.simulator.filters import FilterError
from callhook.sources.simulator.shapes import stamp

if TYPE_CHECKING:
    from callhook.sources.simulator.server import Session, SimulatorServer

__all__ = ["ActionHandler"]

Handler = Callable[["Session", AmiMessage, str], list[AmiMessage]]
_TRUE = ("1", "true", "yes", "on")
_BEFORE_LOGIN = ("login", "logoff", "challenge")
# (action, synopsis, privilege) as ListCommands shows them, for the actions answered here
SYNOPSES = {
    "Challenge": ("Generate Challenge for MD5 Auth.", "<none>"),
    "Command": ("Execute Asterisk CLI Command.", "command,all"),
    "CoreShowChannels": ("List currently active channels.", "system,reporting,all"),
    "CoreStatus": ("Show PBX core status variables.", "system,reporting,all"),
    "Events": ("Control Event Flow.", "<none>"),
    "Filter": ("Dynamically add filters for the current manager session.", "system,all"),
    "Getvar": ("Gets a channel variable or function value.", "call,reporting,all"),
    "Hangup": ("Hangup channel.", "system,call,all"),
    "ListCommands": ("List available manager commands.", "<none>"),
    "Login": ("Login Manager.", "<none>"),
    "Logoff": ("Logoff Manager.", "<none>"),
    "Originate": ("Originate a call.", "originate,all"),
    "Ping": ("Keepalive command.", "<none>"),
    "QueueAdd": ("Add interface to queue.", "agent,all"),
    "QueuePause": ("Makes a queue member temporarily unavailable.", "agent,all"),
    "QueueRemove": ("Remove interface from queue.", "agent,all"),
    "QueueStatus": ("Show queue status.", "<none>"),
    "QueueSummary": ("Show queue summary.", "<none>"),
    "Status": ("List channel status.", "system,call,reporting,all"),
}


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
            "challenge": self._challenge,
            "events": self._events,
            "filter": self._filter,
            "listcommands": self._list_commands,
            "corestatus": self._core_status,
            "command": self._command,
            "coreshowchannels": self._channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "status": self._status,
            "getvar": self._getvar,
            "originate": self._originate,
            "hangup": self._hangup,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
        }

    def handle(self, session: Session, msg: AmiMessage) -> list[AmiMessage]:
        action = msg.get("Action")
        name, action_id = action.lower(), msg.action_id
        if not action:
            return [_response(action_id, False, "Missing action in request")]
        if not session.logged_in and name not in _BEFORE_LOGIN:
            return [_response(action_id, False, "Permission denied")]
        if name == "login":
            return self._login(session, msg, action_id)
        handler = self._table.get(name)
        if handler is None:
            return [
                _response(
                    action_id,
                    False,
                    f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.",
                )
            ]
        return handler(session, msg, action_id)

    # ------------------------------------------------------------- session
    def _login(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        if session.logged_in:
            return [_response(action_id, True, "Already authenticated")]
        if not self._authenticated(session, msg):
            return [_response(action_id, False, "Authentication failed")]
        session.logged_in = True
        self.server.session_logged_in()
        read = self.server.config.read
        mask = parse_mask(msg.get("Events"))
        session.send_events = read if mask is None else read & mask
        session.filters = self.server.user_filters()
        out = [_response(action_id, True, "Authentication accepted")]
        if "system" in session.send_events:
            uptime = str(int(self.server.uptime()))
            out.append(
                AmiMessage(
                    (
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", uptime),
                        ("LastReload", uptime),
                        ("Status", "Fully Booted"),
                    )
                )
            )
        auth = self.server.auth_event(session)
        self.server.broadcast(auth, skip=session)
        return out + ([auth] if session.wants(auth) else [])

    def _authenticated(self, session: Session, msg: AmiMessage) -> bool:
        """Plain ``Secret``, or ``AuthType: MD5`` with ``Key`` = md5(challenge + secret)."""
        if msg.get("AuthType").lower() == "md5":
            key, challenge = msg.get("Key"), session.challenge
            if not key or not challenge:
                return False
            want = hashlib.md5((challenge + self.server.config.secret).encode(), usedforsecurity=False).hexdigest()
            return self.server.check_user(msg.get("Username")) and secrets.compare_digest(key.encode(), want.encode())
        return self.server.check_login(msg.get("Username"), msg.get("Secret"))

    def _challenge(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        if msg.get("AuthType").lower() != "md5":
            return [_response(action_id, False, "Must specify AuthType")]
        if not session.challenge:
            session.challenge = str(secrets.randbelow(2**31))
        return [_response(action_id, True, "", ("Challenge", session.challenge))]

    def _ping(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        return [_response(action_id, True, "", ("Ping", "Pong"), ("Timestamp", stamp(self.server.sim_now())))]

    def _logoff(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        head = (("Response", "Goodbye"),) + ((("ActionID", action_id),) if action_id else ())
        return [AmiMessage((*head, ("Message", "Thanks for all the fish.")))]

    def _events(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        mask = parse_mask(msg.get("EventMask"))
        if mask is None:
            return [_response(action_id, False, "Invalid event mask")]
        session.send_events = self.server.config.read & mask
        return [_response(action_id, True, "", ("Events", "On" if mask else "Off"))]

    def _filter(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        if msg.get("Operation", "Add").lower() != "add":
            return [_response(action_id, False, "Unknown operation")]
        try:
            session.filters.add(msg.get("Filter"), msg.get("MatchCriteria"))
        except FilterError as exc:
            return [_response(action_id, False, exc.answer)]
        return [_response(action_id, True, "Success")]

    # -------------------------------------------------------------- queries
    def _list_commands(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        lines = tuple((name, f"{synopsis} (Priv: {priv})") for name, (synopsis, priv) in SYNOPSES.items())
        return [_response(action_id, True, "", *lines)]

    def _core_status(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        started = self.server.started_at()
        return [
            _response(
                action_id,
                True,
                "",
                ("CoreStartupDate", started.strftime("%Y-%m-%d")),
                ("CoreStartupTime", started.strftime("%H:%M:%S")),
                ("CoreReloadDate", started.strftime("%Y-%m-%d")),
                ("CoreReloadTime", started.strftime("%H:%M:%S")),
                ("CoreCurrentCalls", str(len(self.sim.pbx.channels))),
                ("CoreProcessedCalls", str(self.sim.pbx.channels_created)),
            )
        ]

    def _command(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        command = msg.get("Command").strip()
        if not command:
            return [_response(action_id, False, "No command provided")]
        self.server.flush()
        ok, output = run_command(command, self.server)
        lines = tuple(("Output", line) for line in output.removesuffix("\n").split("\n"))
        return [_response(action_id, ok, "Command output follows", *lines)]

    def _status(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        wanted = tuple(v.strip() for v in msg.get("Variables").split(",") if v.strip())
        items = status.status(self.sim.pbx, action_id, msg.get("Channel"), wanted)
        if items is None:
            return [_response(action_id, False, "No such channel")]
        return self._list(action_id, "Channel status will follow", items)

    def _getvar(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        name, variable = msg.get("Channel"), msg.get("Variable")
        if not variable:
            return [_response(action_id, False, "No variable specified")]
        self.server.flush()
        value = ""
        if name:
            ch = next((c for c in self.sim.pbx.channels.values() if c.name.lower() == name.lower()), None)
            if ch is None:
                return [_response(action_id, False, "No such channel")]
            value = status.variable(ch, variable)
        return [_response(action_id, True, "", ("Variable", variable), ("Value", value))]

    # ---------------------------------------------------------------- lists
    def _list(self, action_id: str, message: str, items: list[AmiMessage]) -> list[AmiMessage]:
        head = [("Response", "Success")] + ([("ActionID", action_id)] if action_id else [])
        return [AmiMessage((*head, ("EventList", "start"), ("Message", message))), *items]

    def _channels(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        return self._list(action_id, "Channels will follow", status.core_show_channels(self.sim.pbx, action_id))

    def _queue_status(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        items = status.queue_status(self.sim.pbx, action_id, msg.get("Queue"), msg.get("Member"))
        return self._list(action_id, "Queue status will follow", items)

    def _queue_summary(self, session: Session, msg: AmiMessage, action_id: str) -> list[AmiMessage]:
        self.server.flush()
        items = status.queue_summary(self.sim.pbx, action_id, msg.get("Queue"))
        return self._list(action_id, "Queue summary will follow", items)

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
