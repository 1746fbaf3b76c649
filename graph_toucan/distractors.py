"""The tools offered with a path: its own tools and distractors, so the assistant must choose.

Distractors come first from the path's categories (the tools most easily confused with the right
ones), then from the whole graph. Draws sample positions in precomputed sorted pools instead of
building candidate lists, so a path costs the same on a 3,000-tool graph as on a small one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from graph_toucan.graph_index import GraphIndex
from graph_toucan.records import AvailableTool


def draw(pools: Sequence[Sequence[str]], excluded: set[str], count: int, rng: random.Random) -> list[str]:
    """Up to ``count`` distinct tools of the disjoint ``pools`` not in ``excluded`` (which grows with
    them), uniformly at random, in draw order."""
    size = sum(len(p) for p in pools)
    if size >= 4 * (len(excluded) + count):
        # At least three quarters of the pool stay free: rejection sampling ends after about count draws.
        picked: list[str] = []
        while len(picked) < count:
            at = rng.randrange(size)
            for pool in pools:
                if at < len(pool):
                    break
                at -= len(pool)
            if pool[at] not in excluded:
                excluded.add(pool[at])
                picked.append(pool[at])
        return picked
    rest = [t for p in pools for t in p if t not in excluded]
    picked = rng.sample(rest, min(count, len(rest)))
    excluded.update(picked)
    return picked


def pick_available(
    index: GraphIndex, path_tools: list[str], count: int, rng: random.Random
) -> list[AvailableTool]:
    """The path's tools and ``count`` distractors (fewer only when the graph has no more tools): tools of
    the path's categories first, then any others, all shuffled together."""
    chosen = set(path_tools)
    categories = sorted({c for c in (index.nodes[t].category for t in path_tools) if c})
    picked = draw([index.by_category[c] for c in categories], chosen, count, rng)
    if len(picked) < count:
        picked += draw([index.ids], chosen, count - len(picked), rng)
    tools = [AvailableTool(id=t, tool=index.nodes[t].ref) for t in path_tools]
    tools += [AvailableTool(id=t, tool=index.nodes[t].ref, distractor=True) for t in picked]
    rng.shuffle(tools)
    return tools
