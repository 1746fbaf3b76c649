"""Mock publication on a workspace's catalog (issue 22): names, collisions, reachability, lookup cost.

    python benchmarks/mock_names.py WORKSPACE

Loads the workspace's accepted mocks into a :class:`MockRuntime` as ``run`` does and prints: mocks,
published names, mocks left without a name of their own (collisions: overwritten or shadowed),
mocks a lookup by tool id does not return, server names shared by more than one server, and the
time of one lookup by tool id (the translator's lookup), averaged over every mock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph_toucan.mock import DeterministicSimulator, MockRuntime, SandboxPool
from graph_toucan.store import Store


async def measure(workspace: Path) -> dict[str, object]:
    store = Store.open(workspace)
    mocks = store.mocks(status="accepted")
    servers: dict[str, set[str]] = defaultdict(set)
    for mock in mocks:
        servers[mock.tool.server_name].add(mock.tool.server_id)
    async with SandboxPool(1) as pool:
        runtime = MockRuntime(pool, DeterministicSimulator())
        runtime.add(mocks)
        published = runtime.mocks
        named = {loaded.mock.tool.id for loaded in published.values()}
        ids = [m.tool.id for m in mocks]
        started = time.perf_counter()
        found = [runtime.find(i).mock.tool.id for i in ids]
        lookup = (time.perf_counter() - started) / max(len(ids), 1)
    store.close()
    return {
        "mocks": len(mocks),
        "published_names": len(published),
        "collisions": len({m.tool.id for m in mocks} - named),
        "unreachable_by_id": sum(a != b for a, b in zip(ids, found, strict=True)),
        "shared_server_names": sum(len(v) > 1 for v in servers.values()),
        "lookup_by_id_us": round(lookup * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    print(json.dumps(asyncio.run(measure(parser.parse_args().workspace)), indent=2))


if __name__ == "__main__":
    main()
