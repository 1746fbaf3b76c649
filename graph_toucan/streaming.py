"""A bounded stream of work that stops at a target without overshooting it.

Translation and refusal variants both make items in a fixed order until ``target`` of them are
accepted. :func:`until_accepted` keeps up to ``concurrency`` items in flight, starts the next one the
moment one finishes, and starts one only while ``accepted + in flight < target``: so the target is
never overshot, and when each item's result depends only on the item, the accepted set is the
shortest prefix of the order with ``target`` accepted, whatever the timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def gather_or_cancel(*awaitables: Awaitable[R]) -> list[R]:
    """``asyncio.gather`` that, when one of them raises, cancels the others and raises that error
    (not an ``ExceptionGroup``, as a ``TaskGroup`` would)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def items_in_flight(requests: int) -> int:
    """Items (conversations) to keep in flight so that ``requests`` teacher requests are: an item
    spends part of its time off the teacher (simulated calls, verification, its own CPU; 15-30% of
    it through a 100 ms endpoint), and with one item per request slot the slots sit idle for that
    part. Half as many again keep them full; the client's semaphore still bounds the requests."""
    return requests + max(1, requests // 2)


async def until_accepted(
    items: Iterator[T],
    work: Callable[[T], Awaitable[R | None]],
    *,
    accepted: Callable[[R], bool],
    target: int,
    done: int = 0,
    concurrency: int = 8,
    finished: Callable[[T, R | None, int], None] | None = None,
) -> int:
    """Run ``work`` over ``items`` in order until ``target`` results are accepted (``done`` already
    are); ``None`` results count for nothing. ``finished(item, result, accepted_so_far)`` is told of
    every result as it comes. Returns the accepted count. An exception from ``work`` cancels the
    items in flight and propagates."""
    in_flight: dict[asyncio.Task[R | None], T] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and len(in_flight) < concurrency and done + len(in_flight) < target:
                item = next(items, None)
                if item is None:
                    exhausted = True
                    break
                in_flight[asyncio.ensure_future(work(item))] = item
            if not in_flight:
                return done
            ready, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in ready:
                item = in_flight.pop(task)
                result = task.result()
                if result is not None and accepted(result):
                    done += 1
                if finished:
                    finished(item, result, done)
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
