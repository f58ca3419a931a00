"""``callhook secrets``: the keys that encrypt webhook secrets at rest.

``callhook secrets new-key`` prints a new Fernet key (nothing is stored).
``callhook secrets rotate`` opens the database with the configured keys
(``CALLHOOK_SECRET_KEYS``: the new key first, the old ones after it) and writes
every subscription's secrets again, sealed with the first key; values stored in
clear before a key was set are sealed too. It prints how many it wrote, never a
secret. Deliveries already queued keep the key they were sealed with: keep the old
key listed until they are finished (docs/api.md, "Secrets at rest").

Exit status: 0 done, 1 the store failed or a stored value cannot be opened with
the configured keys, 2 no key is configured.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from callhook.config import Config
from callhook.store.base import StoreError

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "secrets",
        help="make a key for secrets at rest, or seal the stored secrets again with the first key",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    k = acts.add_parser("new-key", help="print a new Fernet key")
    k.set_defaults(func=new_key)
    r = acts.add_parser("rotate", help="seal every stored secret again with the first key")
    r.add_argument("--db", dest="database_url", help="database URL (env CALLHOOK_DATABASE_URL)")
    r.set_defaults(func=rotate)


def new_key(cfg: Config, args: argparse.Namespace) -> int:
    from callhook.store.sealed import new_key as make

    print(make(), flush=True)
    return 0


def rotate(cfg: Config, args: argparse.Namespace) -> int:
    from callhook.bootstrap import sealed_store
    from callhook.cli.main import run_async

    if not (cfg.extra or {}).get("secret_keys"):
        print("callhook secrets rotate: no key: set CALLHOOK_SECRET_KEYS (the new key first)", file=sys.stderr)
        return 2
    store = sealed_store(cfg)

    async def go() -> int:
        await store.open()
        try:
            n = await store.rotate(time.time())
        finally:
            await store.close()
        print(f"sealed the secrets of {n} subscription(s) with the first key", flush=True)
        return 0

    try:
        return run_async(go())
    except StoreError as exc:
        print(f"callhook secrets rotate: {exc}", file=sys.stderr)
        return 1
