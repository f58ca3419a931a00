"""The Asterisk CLI commands the simulated PBX answers through the AMI ``Command`` action.

Each returns (success, output) the way ``ast_cli_command`` does: output lines as the
CLI prints them, and ``False`` for an unknown command, whose output is Asterisk's
``No such command '...' (type 'core show help ...' for other possible commands)``.
The answers come from the live model (channels, calls, queues), never canned text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from callhook import __version__

if TYPE_CHECKING:
    from callhook.sources.simulator.server import SimulatorServer

__all__ = ["COMMANDS", "VERSION", "run_command"]

VERSION = "23.4.1"  # the Asterisk the recordings were made on


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _version(server: SimulatorServer) -> str:
    return f"Asterisk {VERSION} (callhook {__version__} simulator)\n"


def _calls(server: SimulatorServer) -> str:
    pbx = server.sim.pbx
    calls = len({ch.linkedid for ch in pbx.channels.values()})
    done = pbx.channels_created
    return f"{calls} active call{_s(calls)}\n{done} call{_s(done)} processed\n"


def _row(channel: str, location: str, state: str, app: str) -> str:
    """core show channels' FORMAT_STRING: %-64.64s %-32.32s %-7.7s %-30.30s."""
    return f"{channel[:64]:<64} {location[:32]:<32} {state[:7]:<7} {app[:30]:<30}"


def _channels(server: SimulatorServer) -> str:
    pbx = server.sim.pbx
    rows = [_row("Channel", "Location", "State", "Application(Data)")]
    for ch in pbx.channels.values():
        app = f"{ch.application}({ch.app_data})" if ch.application else "(None)"
        rows.append(_row(ch.name, f"{ch.exten}@{ch.context}:{ch.priority}", ch.state, app))
    n = len(pbx.channels)
    return "\n".join(rows) + f"\n{n} active channel{_s(n)}\n" + _calls(server)


def _queues(server: SimulatorServer) -> str:
    pbx = server.sim.pbx
    out: list[str] = []
    for q in pbx.directory.queues:
        waiting = pbx.waiting.get(q.name, [])
        members = [m for m in pbx.members.values() if m.queue == q.name]
        out.append(f"{q.name} has {len(waiting)} call{_s(len(waiting))} (max unlimited) in '{q.strategy}' strategy")
        out.append("   Members: " if members else "   No Members")
        for m in members:
            flags = f" ({m.membership})" + (f" (paused:{m.reason})" if m.paused else "")
            flags += " (in call)" if m.in_call else ""
            out.append(f"      {m.name} ({m.interface}){flags} has taken {m.calls_taken} calls")
        out.append("   Callers: " if waiting else "   No Callers")
        for pos, uid in enumerate(waiting, 1):
            ch = pbx.channels.get(uid)
            if ch is not None:
                out.append(f"      {pos}. {ch.name} (wait: {int(pbx.now - ch.created)}s)")
        out.append("")
    return "\n".join(out) + "\n"


COMMANDS: dict[str, Callable[[SimulatorServer], str]] = {
    "core show version": _version,
    "core show calls": _calls,
    "core show channels": _channels,
    "queue show": _queues,
}


def run_command(command: str, server: SimulatorServer) -> tuple[bool, str]:
    words = command.split()
    key = " ".join(w.lower() for w in words)
    handler = COMMANDS.get(key)
    if handler is not None:
        return True, handler(server)
    prefixes = (" ".join(words[:n]) for n in range(len(words), 0, -1))
    best = next((p for p in prefixes if any(c.startswith(p.lower()) for c in COMMANDS)), "")
    return False, f"No such command '{command}' (type 'core show help {best}' for other possible commands)\n"
