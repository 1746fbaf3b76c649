"""Sharded runs: ``graph-toucan run --shards N`` (one after another here) or ``--ray [ADDRESS]`` (as Ray tasks).

A run of ``n`` conversations with seed ``s`` in N shards:

1. the stages before translation (import, annotate, graph, mocks) run once, in the workspace;
2. shard k translates its own path stream until its share of ``n`` is accepted (:func:`plan_shards`;
   shares differ by at most one): the stream of seed :func:`shard_seed` ``(s, k)`` (``s`` itself for
   shard 0, so ``--shards 1`` is the unsharded run), keeping only the paths whose content id is k
   modulo N. A path's id hashes its content, not its seed, so the seeds alone would not keep two
   shards from drawing the same path; the id filter does;
3. the refusal variants, preference pairs, statistics and export run once, over all conversations.

Without Ray, step 2 runs the shards one after another in the workspace itself: that is *the unsharded
run of the same streams*, the reference a Ray run equals. With Ray every shard is a task that gets a
copy of the prepared workspace (catalog, annotations, graph, mocks: shipped through Ray's object
store, so the workers need no shared disk), translates in it, and sends it back; the driver keeps it
as ``<workspace>/shards/shard-K-of-N`` and merges it into the workspace (merge.py) as soon as it
arrives. Since every record is keyed by content, the merged workspace holds exactly the records of
the sequential run, and its export has the same bytes, whenever the teacher answers a request the
same way each time it is asked (the offline teacher does; a sampled LLM need not, and in the
sequential run a later shard can reuse an earlier one's cached answer).

Shard k's teacher uses ``teacher_urls[k % len(teacher_urls)]`` as its base URL when URLs are given,
and ``--max-calls`` / ``--max-cost`` are split across the shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from graph_toucan.errors import GraphToucanError
from graph_toucan.graph import GRAPH_FILE
from graph_toucan.llm import LLM, Budget, PriceTable, make_backend
from graph_toucan.merge import merge_workspaces
from graph_toucan.pipeline import (
    AFTER_TRANSLATE,
    BEFORE_TRANSLATE,
    Pipeline,
    PipelineConfig,
    PipelineReport,
    Progress,
)
from graph_toucan.store import DB_NAME, Store

SHARDS_DIR = "shards"  # <workspace>/shards/shard-K-of-N: what each Ray task sent back
RAY_MISSING = (
    "--ray needs Ray, which is not installed; install the extra with pip install 'graph-toucan[ray]' "
    "(or pip install 'ray>=2.9'), or leave --ray out to run the shards one after another in this process"
)


class ShardError(GraphToucanError):
    """Shard settings that cannot work, or Ray missing or unreachable."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    seed: int  # of the shard's path stream and of its translations
    n: int  # accepted conversations the shard makes

    @property
    def name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"


def shard_seed(seed: int, index: int) -> int:
    """The seed of shard ``index``'s stream: ``seed`` itself for shard 0, else a 31-bit hash of both
    (the same for any number of shards, so adding shards keeps the earlier shards' streams)."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"graph-toucan/shard/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _share(total: int, index: int, count: int) -> int:
    return total // count + (index < total % count)


def plan_shards(n: int, count: int, seed: int) -> list[Shard]:
    """``count`` shards making ``n`` conversations in all; the first ``n % count`` make one more."""
    if count < 1:
        raise ShardError(f"--shards must be at least 1 (got {count})")
    if count > n:
        raise ShardError(f"--shards {count} is more than --n {n}; use at most {n} shards")
    return [Shard(k, count, shard_seed(seed, k), _share(n, k, count)) for k in range(count)]


@dataclass
class Teacher:
    """How a shard makes its teacher; plain data, so it travels to Ray workers (API keys do not: each
    backend reads its key from the environment of the process it runs in)."""

    name: str = "offline"
    urls: tuple[str, ...] = ()  # shard k: urls[k % len(urls)]; none: the backend's default
    concurrency: int = 8
    max_calls: int | None = None  # for the whole run; each shard gets its share
    max_cost: float | None = None
    prices: PriceTable | None = None

    def url(self, shard: Shard | None) -> str | None:
        if not self.urls:
            return None
        return self.urls[(shard.index if shard else 0) % len(self.urls)]

    def budget(self, shard: Shard | None) -> Budget:
        if shard is None:
            return Budget(max_calls=self.max_calls, max_cost_usd=self.max_cost)
        calls = None if self.max_calls is None else max(1, _share(self.max_calls, shard.index, shard.count))
        cost = self.max_cost if self.max_cost is None else self.max_cost / shard.count
        return Budget(max_calls=calls, max_cost_usd=cost)

    @contextlib.asynccontextmanager
    async def open(self, store: Store, shard: Shard | None = None) -> AsyncIterator[LLM]:
        """The teacher of ``shard`` (``None``: the stages run once), logging into ``store``."""
        backend = make_backend(self.name, base_url=self.url(shard))
        llm = LLM(
            backend,
            store,
            max_concurrency=self.concurrency,
            budget=self.budget(shard),
            prices=self.prices,
        )
        try:
            yield llm
        finally:
            await llm.aclose()


@dataclass
class ShardedReport:
    """A sharded run: the report of the stages after translation (refusal, pairs, stats, export), with
    the translation counts of every shard summed into it, each shard's own, and the merges."""

    executor: str  # sequential or ray
    report: PipelineReport
    shards: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.report.as_dict() | {
            "executor": self.executor,
            "shards": self.shards,
            "merges": self.merges,
        }


def shard_config(config: PipelineConfig, shard: Shard) -> PipelineConfig:
    """What a shard runs: translation only, of its own stream, to its share. Its stream keeps only the
    paths whose id falls in its shard (sampling.py), so two shards never translate the same path."""
    sample = config.sample.model_copy(
        update={"shard": None if shard.count == 1 else (shard.index, shard.count)}
    )
    return replace(
        config, n=shard.n, seed=shard.seed, sample=sample, stages=frozenset({"translate"}), export_dir=None
    )


async def _run(
    store: Store,
    teacher: Teacher,
    config: PipelineConfig,
    shard: Shard | None = None,
    progress: Progress | None = None,
) -> PipelineReport:
    async with teacher.open(store, shard) as llm:
        return await Pipeline(store, llm, config, progress).run()


def _shard_summary(shard: Shard, report: PipelineReport, seconds: float, cpu: float) -> dict[str, Any]:
    return asdict(shard) | {
        "accepted": report.accepted,
        "rejected": report.rejected,
        "new_accepted": report.new_accepted,
        "failed": len(report.failed),
        "llm_calls": report.llm_calls,
        "budget_spent": report.budget_spent,
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 3),  # of the process that ran the shard (its sandbox processes aside)
    }


def _total(final: PipelineReport, parts: list[PipelineReport], before: PipelineReport) -> PipelineReport:
    """The run's report: translation counts summed over the shards, stage seconds of every phase."""
    for part in parts:
        final.accepted += part.accepted
        final.rejected += part.rejected
        final.new_accepted += part.new_accepted
        final.new_rejected += part.new_rejected
        final.paths_sampled += part.paths_sampled
        final.failed.update(part.failed)
        final.llm_calls += part.llm_calls
        final.cache_hits += part.cache_hits
        final.cost_usd = round(final.cost_usd + part.cost_usd, 6)
        final.exhausted = final.exhausted or part.exhausted
        final.budget_spent = final.budget_spent or part.budget_spent
    final.llm_calls += before.llm_calls
    final.cache_hits += before.cache_hits
    final.cost_usd = round(final.cost_usd + before.cost_usd, 6)
    final.budget_spent = before.budget_spent or final.budget_spent
    final.stages = before.stages | final.stages
    return final


async def run_sequential(
    store: Store,
    teacher: Teacher,
    config: PipelineConfig,
    shards: int,
    progress: Progress | None = None,
) -> ShardedReport:
    """The shards' streams one after another in ``store`` itself: the unsharded run of the same streams."""
    plan = plan_shards(config.n, shards, config.seed)
    before = await _run(store, teacher, replace(config, stages=BEFORE_TRANSLATE), progress=progress)
    parts, summaries = [], []
    started = time.perf_counter()
    for shard in plan:
        t0, cpu = time.perf_counter(), time.process_time()
        part = await _run(store, teacher, shard_config(config, shard), shard)
        parts.append(part)
        summaries.append(_shard_summary(shard, part, time.perf_counter() - t0, time.process_time() - cpu))
        if progress:
            progress("shards", len(parts), len(plan), {"accepted": sum(p.accepted for p in parts)})
    translate_s = time.perf_counter() - started
    final = await _run(store, teacher, replace(config, stages=AFTER_TRANSLATE), progress=progress)
    final.stages["translate"] = round(translate_s, 3)
    return ShardedReport("sequential", _total(final, parts, before), summaries)


# -- Ray ------------------------------------------------------------------------------------------------
def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ShardError(RAY_MISSING) from None
    return ray


def workspace_files(workspace: Path) -> dict[str, bytes]:
    """What a shard needs of a workspace: a consistent copy of its database (``VACUUM INTO``, safe
    while others write) and its dependency graph."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="gt-snapshot-") as tmp:
        copy = Path(tmp) / DB_NAME
        with contextlib.closing(sqlite3.connect(workspace / DB_NAME)) as conn:
            conn.execute("vacuum into ?", [str(copy)])
        files[DB_NAME] = copy.read_bytes()
    if (workspace / GRAPH_FILE).is_file():
        files[GRAPH_FILE] = (workspace / GRAPH_FILE).read_bytes()
    return files


def write_workspace(folder: Path, files: dict[str, bytes]) -> None:
    """Replace the workspace in ``folder`` by ``files`` (from :func:`workspace_files`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        (folder / stale).unlink(missing_ok=True)
    for name, data in files.items():
        partial = folder / f"{name}.partial"
        partial.write_bytes(data)
        partial.replace(folder / name)


def translate_shard(
    files: dict[str, bytes], shard: Shard, config: PipelineConfig, teacher: Teacher
) -> tuple[dict[str, bytes], PipelineReport, float, float]:
    """One shard, where a Ray task runs it: its stream translated in a private copy of the prepared
    workspace; returns that workspace's files, the report, and the seconds and CPU seconds it took."""
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix=f"gt-{shard.name}-") as tmp:
        workspace = Path(tmp)
        write_workspace(workspace, files)
        store = Store(workspace / DB_NAME)
        try:
            report = asyncio.run(_run(store, teacher, shard_config(config, shard), shard))
        finally:
            store.close()
        out = workspace_files(workspace)
        return out, report, time.perf_counter() - started, time.process_time() - cpu


def connect(ray: Any, address: str | None) -> bool:
    """Connect to the Ray cluster at ``address`` unless this process is connected already: ``None``
    gives ``RAY_ADDRESS`` when set, else a cluster started on this machine for this run (``local``);
    ``auto`` is the cluster this machine belongs to; ``ray://HOST:10001`` a remote one through its
    Ray client server. True when this call connected (and so disconnects at the end)."""
    if ray.is_initialized():
        return False
    if address is None:
        address = "auto" if os.environ.get("RAY_ADDRESS") else "local"
    try:
        ray.init(
            address=address,
            include_dashboard=False if address == "local" else None,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ShardError(
            f"cannot connect to the Ray cluster at {address!r}: {exc}; give --ray-address ray://HOST:10001 "
            "(a Ray client server) or HOST:6379, set RAY_ADDRESS, or leave both out for a cluster on this "
            "machine"
        ) from None
    return True


async def run_on_ray(
    store: Store,
    teacher: Teacher,
    config: PipelineConfig,
    shards: int,
    address: str | None = None,
    progress: Progress | None = None,
) -> ShardedReport:
    """The shards as Ray tasks (see the module docstring); each one's workspace is merged into
    ``store`` as it arrives, so a killed run keeps what finished and a rerun resumes from it."""
    ray = _ray()
    plan = plan_shards(config.n, shards, config.seed)
    before = await _run(store, teacher, replace(config, stages=BEFORE_TRANSLATE), progress=progress)
    connected = connect(ray, address)
    pending: dict[Any, Shard] = {}
    try:
        files = ray.put(workspace_files(store.workspace))
        task = ray.remote(num_cpus=1, max_retries=0)(translate_shard)
        pending = {task.remote(files, shard, config, teacher): shard for shard in plan}
        parts, summaries, merges = [], [], []
        started = time.perf_counter()
        while pending:
            ready, _ = await asyncio.to_thread(ray.wait, list(pending), num_returns=1)
            shard = pending.pop(ready[0])
            try:
                shard_files, part, seconds, cpu = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                cause = getattr(exc, "cause", None) or exc
                raise ShardError(
                    f"{shard.name} (seed {shard.seed}) failed: {type(cause).__name__}: {cause}; the shards "
                    "that finished are merged, so rerunning the same command resumes"
                ) from None
            folder = store.workspace / SHARDS_DIR / shard.name
            write_workspace(folder, shard_files)
            merges.append(merge_workspaces(store, [folder]).as_dict())
            parts.append(part)
            summaries.append(_shard_summary(shard, part, seconds, cpu))
            if progress:
                progress("shards", len(parts), len(plan), {"accepted": sum(p.accepted for p in parts)})
        translate_s = time.perf_counter() - started
    finally:
        for ref in pending:  # after a failed shard (or Ctrl-C): stop the others
            ray.cancel(ref)
        if connected:
            ray.shutdown()
    final = await _run(store, teacher, replace(config, stages=AFTER_TRANSLATE), progress=progress)
    final.stages["translate"] = round(translate_s, 3)
    summaries.sort(key=lambda s: s["index"])
    return ShardedReport("ray", _total(final, parts, before), summaries, merges)


def run_sharded(
    store: Store,
    teacher: Teacher,
    config: PipelineConfig,
    shards: int,
    *,
    ray: bool = False,
    address: str | None = None,
    progress: Progress | None = None,
) -> ShardedReport:
    """``run --shards N`` (``ray``: as Ray tasks at ``address``); see the module docstring."""
    if ray:
        _ray()  # fail before any stage runs
        return asyncio.run(run_on_ray(store, teacher, config, shards, address, progress))
    return asyncio.run(run_sequential(store, teacher, config, shards, progress))
