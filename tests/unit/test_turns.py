"""Arrival order per subscription (delivery/turns.py): deliveries take their turn in id
order, a call's successor keeps its place, a stuck one is passed after ``hold``."""

from __future__ import annotations

import asyncio

from callhook.delivery.turns import Turns


async def _send(turns: Turns, key: str, did: int, log: list[int], successor: int | None = None) -> None:
    if not turns.holds(key, did):
        await turns.take(key, did)
    log.append(did)
    await asyncio.sleep(0)  # the send: others run meanwhile
    turns.give(key, did, successor)


def test_waiting_deliveries_go_in_id_order_one_at_a_time() -> None:
    async def main() -> list[int]:
        turns, log = Turns(), []
        await turns.take("s", 1)  # 1 is being sent
        waiters = [asyncio.create_task(_send(turns, "s", i, log)) for i in (7, 3, 5)]
        await asyncio.sleep(0.01)
        assert log == []  # nobody overtakes the one being sent
        turns.give("s", 1)
        await asyncio.gather(*waiters)
        return log

    assert asyncio.run(main()) == [3, 5, 7]


def test_a_calls_successor_keeps_its_place_among_the_waiting() -> None:
    """Call A's 2 (leased back when 1's outcome was recorded) is older than call B's 10:
    it goes before B; B's 10 goes before A's 12."""

    async def main() -> list[int]:
        turns, log = Turns(), []
        await turns.take("s", 1)
        b = asyncio.create_task(_send(turns, "s", 10, log))
        await asyncio.sleep(0.01)
        turns.give("s", 1, successor=2)  # A's next is older than the waiting 10: A keeps the turn
        assert turns.holds("s", 2)
        log.append(2)
        turns.give("s", 2, successor=12)  # A's next is younger than 10: B goes first
        assert not turns.holds("s", 12)
        a = asyncio.create_task(_send(turns, "s", 12, log))
        await asyncio.gather(b, a)
        return log

    assert asyncio.run(main()) == [2, 10, 12]


def test_other_subscriptions_never_wait() -> None:
    async def main() -> None:
        turns = Turns()
        await turns.take("s", 1)
        await asyncio.wait_for(turns.take("t", 2), 1.0)

    asyncio.run(main())


def test_a_stuck_send_is_passed_after_hold() -> None:
    async def main() -> list[int]:
        turns, log = Turns(hold=0.05), []
        await turns.take("s", 1)  # never given back (a send that hangs)
        await asyncio.gather(_send(turns, "s", 4, log), _send(turns, "s", 2, log))
        return log

    log = asyncio.run(main())
    assert sorted(log) == [2, 4]


def test_a_cancelled_waiter_leaves_the_line() -> None:
    async def main() -> list[int]:
        turns, log = Turns(), []
        await turns.take("s", 1)
        gone = asyncio.create_task(turns.take("s", 2))
        later = asyncio.create_task(_send(turns, "s", 3, log))
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        turns.give("s", 1)
        await asyncio.wait_for(later, 1.0)
        return log

    assert asyncio.run(main()) == [3]


def test_open_all_lets_every_waiter_go_at_stop() -> None:
    async def main() -> None:
        turns = Turns()
        await turns.take("s", 1)
        waiters = [asyncio.create_task(turns.take("s", i)) for i in (2, 3)]
        await asyncio.sleep(0.01)
        turns.open_all()
        await asyncio.wait_for(asyncio.gather(*waiters), 1.0)
        await asyncio.wait_for(turns.take("s", 4), 1.0)  # and no one waits after it

    asyncio.run(main())
