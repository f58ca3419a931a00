"""Numbered SQL migrations per backend: ``<backend>/NNNN_name.sql``, applied in order.

Each store records the applied version in a ``schema_version`` table and applies the
newer files at open, each in its own transaction.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["migrations"]


def migrations(backend: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for ``backend`` ("sqlite" or "postgres"), ascending."""
    out = []
    for entry in resources.files(__name__).joinpath(backend).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)
