"""The one holder of the running directory (who is behind each extension, the DIDs and
their tenants, the queues): every reader asks it, a change is one :meth:`replace`.

Before, an edit through the API swapped the directory into each object that kept one
(the hub, the tracker, its agent book, the PBX actions) by hand, and a reader that was
forgotten kept the old one. Now the holder is built once by the composition root
(:mod:`callhook.bootstrap`), the objects that keep a reference are registered with
:meth:`on_replace`, and :meth:`replace` hands the new directory to all of them at once.
Persisting and sharing edits between processes calls :meth:`replace` too.
"""

from __future__ import annotations

from collections.abc import Callable

from callhook.core.directory import Directory

__all__ = ["DirectoryHolder"]


class DirectoryHolder:
    def __init__(self, directory: Directory) -> None:
        self._current = directory
        self._listeners: list[Callable[[Directory], None]] = []
        self.version = 0  # replaced this many times since start

    @property
    def current(self) -> Directory:
        return self._current

    def on_replace(self, fn: Callable[[Directory], None]) -> None:
        """``fn(new)`` on every :meth:`replace`, in registration order."""
        self._listeners.append(fn)

    def replace(self, new: Directory) -> None:
        """Make ``new`` the directory of everything that reads one."""
        self._current = new
        self.version += 1
        for fn in self._listeners:
            fn(new)
