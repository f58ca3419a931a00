"""Storage: one interface (:class:`base.Store`), three backends, and ``open_store``.

URLs: ``memory://``; ``sqlite:///relative.db`` and ``sqlite:////abs/path.db``
(SQLAlchemy's rule: three slashes, then the path -- so an absolute path has four), or
a plain file path; ``postgresql://user@host:port/db`` (also ``postgres://``).
"""

from __future__ import annotations

from callhook.store.base import Store, StoreError

__all__ = ["Store", "StoreError", "open_store"]


def open_store(url: str, *, synchronous: str = "FULL") -> Store:
    """The store ``url`` names, not opened yet: ``await store.open()`` connects and
    applies the migrations."""
    if url.startswith("memory:"):
        from callhook.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        from callhook.store.postgres import PostgresStore

        return PostgresStore(url)
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:")
        if path.startswith("///"):  # SQLAlchemy's rule: three slashes, then the path
            path = path[3:]
        elif path.startswith("//"):
            raise ValueError(f"unsupported SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db")
        if not path:
            raise ValueError("the SQLite URL names no file")
    elif "://" in url:
        raise ValueError(f"unsupported store URL scheme in {url!r}")
    else:
        path = url
    from callhook.store.sqlite import SqliteStore

    return SqliteStore(path, synchronous=synchronous)
