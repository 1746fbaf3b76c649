"""A bounded stream of work that stops at a target without overshooting it.

Translation and refusal variants both make items in a fixed order until ``target`` of them are
accepted. :func:`until_accepted` keeps up to ``concurrency`` items in flight and starts the next
one the moment one finishes. The results it keeps are those of the shortest prefix of the order
with ``target`` accepted, whatever the timing (when each item's result depends only on the item):
the target is never overshot.

An item is *needed* when, even if every earlier item still running were accepted, fewer than
``target`` would be: it is in that prefix whatever the results to come. Needed items start first,
the longest of them first when their lengths are known, so the run does not end on one long item
running alone. A slot with no needed item left to start takes an item on speculation: the longest
of the next items, as many of them as the rejections expected among the needed items running (from
the share rejected so far, rounded down); when one of those is rejected, the item it makes needed
is already under way instead of starting last. A speculative result is kept only once its item is
needed, and dropped (running ones cancelled) when the target is reached, so what is kept is the
same as in order, one item at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

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
    longest_first: Callable[[T], float] | None = None,
    lookahead: int | None = None,
    dropped: Callable[[T], None] | None = None,
) -> int:
    """Run ``work`` over ``items`` until the results of the shortest prefix of ``items`` with
    ``target`` accepted are kept (``done`` already are); ``None`` results count for nothing.
    ``finished(item, result, accepted_so_far)`` is told of every result kept, in the order they are
    kept, and of no other: ``work`` must not store its result, ``finished`` does. Returns the accepted
    count. An exception from ``work`` cancels the items in flight and propagates.

    ``longest_first`` (an item's expected duration) starts the needed items longest first, of up to
    ``lookahead`` (default ``2 * concurrency``) read ahead of the last one started. ``dropped(item)``
    is told of every item started on speculation and not kept, once the target is reached."""
    pending: list[_Item[T, R]] = []  # read and not kept, in the order of ``items``
    running: dict[asyncio.Future[R | None], _Item[T, R]] = {}
    reach = max(1, lookahead or 2 * concurrency) if longest_first else 1
    seen = rejected = 0  # results so far, and how many of them were not accepted
    exhausted = False

    def pull() -> bool:
        """Read the next item into ``pending``; False once ``items`` is exhausted."""
        nonlocal exhausted
        value = None if exhausted else next(items, None)
        if value is None:
            exhausted = True
            return False
        pending.append(_Item(value, longest_first(value) if longest_first else 0))
        return True

    def keep_needed() -> int:
        """Keep the finished results of needed items; return how many pending items are needed."""
        nonlocal done
        maybe, k, needed = done, 0, 0
        while k < len(pending) and maybe < target:
            item = pending[k]
            if item.finished:
                del pending[k]
                done, maybe = done + item.accepted, maybe + item.accepted
                if finished:
                    finished(item.value, item.result, done)
                continue
            maybe += 1  # running or unstarted: it may be accepted
            needed += 1
            k += 1
        return needed

    def read() -> None:
        """Read items while the next one would be needed, up to ``reach`` of them unstarted; while the
        slots fill, up to twice as many as are running (and one more), so that the first items start
        before the whole read-ahead is read (reading may be slow: the stream may plan its items)."""
        unstarted = sum(item.task is None for item in pending)
        maybe = done + sum(not item.finished or item.accepted for item in pending)
        limit = min(reach, 2 * len(running) + 1)
        while maybe < target and unstarted < limit and pull():
            maybe, unstarted = maybe + 1, unstarted + 1

    def speculative(needed: int) -> list[_Item[T, R]]:
        """The unstarted of the items just past the needed ones, as many as the rejections expected
        among the needed items running (from the share of results so far not accepted, rounded
        down: none while fewer than one is expected)."""
        if not rejected:
            return []
        unknown = sum(item.task is not None for item in pending[:needed])
        allowed = int(unknown * rejected / seen)
        while len(pending) - needed < allowed and pull():
            pass
        return [item for item in pending[needed : needed + allowed] if item.task is None]

    def stop() -> int:
        """The accepted count, after telling ``dropped`` of the speculative items not kept."""
        for item in pending:
            if item.task is not None and dropped:
                dropped(item.value)
        return done

    def start(item: _Item[T, R]) -> None:
        item.task = asyncio.ensure_future(work(item.value))
        running[item.task] = item

    try:
        while True:
            needed = keep_needed()
            if done >= target:
                return stop()
            while len(running) < concurrency:
                read()
                needed = keep_needed()
                candidates = [item for item in pending[:needed] if item.task is None]
                if not candidates:
                    candidates = speculative(needed)
                if not candidates:
                    break
                # the longest; max gives the first of equals, the earliest in the stream (all
                # lengths are 0 without ``longest_first``)
                start(max(candidates, key=lambda item: item.length))
                await asyncio.sleep(0)  # the item just started runs to its first wait (its request goes)
            if not running:
                return stop()
            ready, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in ready:
                item = running.pop(task)
                item.result, item.finished = task.result(), True
                item.accepted = item.result is not None and accepted(item.result)
                seen, rejected = seen + 1, rejected + (not item.accepted)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


@dataclass(eq=False)
class _Item(Generic[T, R]):
    """An item of :func:`until_accepted` read from the stream and not yet kept."""

    value: T
    length: float  # its expected duration (``longest_first``), worked out once when read
    task: asyncio.Future[R | None] | None = None
    finished: bool = False
    result: R | None = None
    accepted: bool = False
