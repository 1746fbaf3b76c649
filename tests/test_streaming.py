"""The bounded stream that translation and refusal variants run on (``streaming.until_accepted``):
whatever the timing, the start order and the speculation, it keeps exactly the results of the
shortest prefix of the order with ``target`` accepted, and only those."""

from __future__ import annotations

import asyncio
import random

import pytest

from graph_toucan.streaming import until_accepted


def _shortest_prefix(verdicts: list[bool | None], target: int, done: int = 0) -> list[int]:
    """The items kept by running them one at a time in order (None: the item failed)."""
    kept = []
    for i, verdict in enumerate(verdicts):
        if done >= target:
            break
        kept.append(i)
        done += verdict is True
    return kept


def _run(
    verdicts: list[bool | None],
    seconds: list[float],
    *,
    target: int,
    concurrency: int,
    done: int = 0,
    longest_first: bool = False,
) -> tuple[list[int], list[int], int]:
    """Run ``until_accepted`` over items that sleep ``seconds[i]`` and give ``verdicts[i]``;
    returns the items kept (in the order kept), the items started and the accepted count. Every
    item started and not kept must be told to ``dropped``."""
    started: list[int] = []
    kept: list[int] = []
    dropped: list[int] = []

    async def work(i: int) -> bool | None:
        started.append(i)
        await asyncio.sleep(seconds[i])
        return verdicts[i]

    def finished(i: int, result: bool | None, accepted_so_far: int) -> None:
        assert result is verdicts[i]
        kept.append(i)
        assert accepted_so_far <= target

    accepted = asyncio.run(
        until_accepted(
            iter(range(len(verdicts))),
            work,
            accepted=lambda verdict: verdict is True,
            target=target,
            done=done,
            concurrency=concurrency,
            finished=finished,
            longest_first=(lambda i: seconds[i]) if longest_first else None,
            dropped=dropped.append,
        )
    )
    assert sorted(dropped) == sorted(set(started) - set(kept))
    return kept, started, accepted


@pytest.mark.parametrize("longest_first", [False, True])
def test_whatever_the_timing_the_kept_items_are_the_shortest_prefix_with_the_target(
    longest_first: bool,
) -> None:
    for seed in range(40):
        rng = random.Random(seed)
        size = rng.randint(1, 40)
        verdicts = [rng.choice([True, True, True, False, None]) for _ in range(size)]
        seconds = [rng.choice([0, 0.001, 0.002, 0.004, 0.008]) for _ in range(size)]
        target, concurrency, done = rng.randint(1, 25), rng.randint(1, 9), rng.randint(0, 3)
        kept, started, accepted = _run(
            verdicts, seconds, target=target, concurrency=concurrency, done=done, longest_first=longest_first
        )
        expected = _shortest_prefix(verdicts, target, done)
        assert sorted(kept) == expected, seed
        assert len(set(kept)) == len(kept)
        assert accepted == done + sum(verdicts[i] is True for i in expected)
        assert set(expected) <= set(started)


def test_the_longest_of_the_needed_items_start_first() -> None:
    """Four items are needed whatever happens, two slots: the first starts as soon as it is read
    (nothing runs yet), the next is the longest of the three read after it, then the others start
    longest first; the order of the stream decides among equals."""
    seconds = [0.001, 0.02, 0.001, 0.03, 0.005, 0.02]
    kept, started, _ = _run([True] * 6, seconds, target=4, concurrency=2, longest_first=True)
    assert started == [0, 3, 1, 2]
    assert sorted(kept) == [0, 1, 2, 3]
    assert 4 not in started and 5 not in started  # never needed: the first four are accepted
    _, in_order, _ = _run([True] * 6, seconds, target=4, concurrency=2)
    assert in_order == [0, 1, 2, 3]


def test_free_slots_run_the_next_items_on_speculation_and_keep_them_only_when_needed() -> None:
    """Item 0 is rejected at once, so one rejection is expected among the three needed items
    running: the free slots start items 4 to 6 ahead. When 1 to 3 are accepted the target is met,
    the speculative items are cancelled and none of them is kept; when 2 is rejected, item 4 is
    needed and its result (already under way) is kept."""
    seconds = [0, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01]
    kept, started, accepted = _run(
        [False, True, True, True, True, True, True, True], seconds, target=3, concurrency=8
    )
    assert 4 in started and sorted(kept) == [0, 1, 2, 3] and accepted == 3
    kept, started, accepted = _run(
        [False, True, False, True, True, True, True, True], seconds, target=3, concurrency=8
    )
    assert sorted(kept) == [0, 1, 2, 3, 4] and accepted == 3
    assert started.index(4) < started.index(5) and 7 not in kept


def test_an_error_in_one_item_cancels_the_others_and_propagates() -> None:
    cancelled: list[int] = []

    async def work(i: int) -> bool:
        if i == 2:
            raise RuntimeError("the teacher is gone")
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return True

    with pytest.raises(RuntimeError, match="the teacher is gone"):
        asyncio.run(until_accepted(iter(range(10)), work, accepted=bool, target=10, concurrency=4))
    assert sorted(cancelled) == [0, 1, 3]
