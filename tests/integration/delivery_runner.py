"""A callhook delivery process for the crash and multi-process tests.

Wires a store, an accepter and a dispatcher the way bootstrap does. With
``--accept N`` it accepts N events (``--calls`` calls, seq 1, 2, ... per call, several
accept calls in flight at a time so commits are shared) and prints ``ack <id>`` for
each event once its accept returned. ``--dispatch`` runs a dispatcher whose requests
carry ``x-worker: <name>`` (``--feed-lag`` as DispatcherOptions.feed_lag). Prints ``ready``
when running; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from callhook.core.dialects.base import Request
from callhook.core.events import Event
from callhook.core.retry import RetryPolicy
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.sender import HttpSender, Response
from callhook.store import open_store

from delivery_kit import fake_encode, make_event, make_sub


class TaggingSender:
    def __init__(self, inner: HttpSender, name: str) -> None:
        self._inner, self._name = inner, name

    async def send(self, request: Request) -> Response:
        headers = (*request.headers, ("x-worker", self._name))
        return await self._inner.send(Request(request.method, request.url, headers, request.body))

    async def close(self) -> None:
        await self._inner.close()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def accept_all(accepter: Accepter, n: int, calls: int) -> None:
    """Round r accepts seq r of every call, in concurrent chunks; rounds one after another,
    so a call's events are accepted in order, as the AMI reader would."""
    events = [make_event(f"call{i % calls}", i // calls + 1) for i in range(n)]

    async def one(batch: list[Event]) -> None:
        await accepter.accept(batch)
        say("\n".join(f"ack {e.id}" for e in batch))

    for start in range(0, n, calls):
        rnd = events[start : start + calls]
        await asyncio.gather(*(one(rnd[i : i + 5]) for i in range(0, len(rnd), 5)))


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--accept", type=int, default=0)
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--dispatch", action="store_true")
    p.add_argument("--name", default="w")
    p.add_argument("--max-chain", type=int, default=DispatcherOptions().max_chain)
    p.add_argument("--feed-lag", type=float, default=DispatcherOptions().feed_lag)
    args = p.parse_args()

    store = open_store(args.store)
    await store.open()
    policy = RetryPolicy(schedule=(0.2,) * 20, jitter=0.0)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sender = TaggingSender(HttpSender(total_timeout=5.0), args.name)
    dispatcher = Dispatcher(
        store,
        sender,
        policy=policy,
        options=DispatcherOptions(
            poll_interval=0.1,
            lease=30.0,
            sweep_interval=1.0,
            max_chain=args.max_chain,
            feed_lag=args.feed_lag,
        ),
    )
    if args.dispatch:
        await dispatcher.start()
    accepter = Accepter(store, fake_encode, policy=policy)
    if args.accept:
        await store.put_subscription(make_sub("s", args.url), time.time())
    say("ready")
    if args.accept:
        await accept_all(accepter, args.accept, args.calls)
        say("accepted")
    await stop.wait()
    if args.dispatch:
        await dispatcher.stop(grace=5.0)
    await sender.close()
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
