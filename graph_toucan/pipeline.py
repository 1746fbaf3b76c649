"""The one-command pipeline (``graph-toucan run``): the only module that knows the stage order.

import -> annotate -> graph -> mocks -> sample + translate (until N conversations are accepted)
-> refusal variants (to the mixture's shares) -> preference pairs -> statistics (``<workspace>/stats``)
-> exports (when an output folder is given). Every stage reads and writes the store and skips what is done,
so a killed run continues where it stopped; paid LLM answers come back from the call log for free.

Paths are translated as a bounded stream over the sample stream: a few more in flight than
``concurrency`` (the teacher requests in flight; see ``streaming.items_in_flight``), a new one
starting whenever one finishes, and only while accepted plus in flight is below N. So the accepted
set is the shortest prefix of the stream with N accepted conversations: the same for one
uninterrupted run and for any number of killed and resumed ones, and never more than N. Among the
paths that prefix certainly needs, the longest start first, so the run does not end on one long
conversation running alone, and a slot none of them can take runs the next path on speculation
(kept only once needed).
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.annotate import annotate_tools
from graph_toucan.catalog import import_entries, read_catalog
from graph_toucan.distill import distill_conversation
from graph_toucan.errors import BudgetExceeded, GraphToucanError, LLMError, every_item_failed
from graph_toucan.export import FORMATS, export
from graph_toucan.graph import build_graph
from graph_toucan.ids import content_id
from graph_toucan.llm.client import LLM
from graph_toucan.mock import DeterministicSimulator, MockRuntime, SandboxPool, TeacherSimulator, build_mocks
from graph_toucan.mock.build import remembered_checks
from graph_toucan.path_feed import PathFeed
from graph_toucan.records import Conversation, PlannedPath, PreferencePair, Sampler
from graph_toucan.refusal import Mixture, augment
from graph_toucan.resources import example_catalog
from graph_toucan.sampling import SampleConfig, population
from graph_toucan.stats import compute_stats, write_stats
from graph_toucan.store import Store
from graph_toucan.streaming import items_in_flight, until_accepted
from graph_toucan.translate import Translator
from graph_toucan.workspace_lock import workspace_lock

Progress = Callable[[str, int, int | None, dict[str, Any]], None]
"""``progress(stage, done, total, info)``: ``info`` carries counts such as accepted and rejected."""


EXAMPLE_IMPORT = "import-example"  # the runs-table id of the automatic import of the bundled example
STAGE_RUN = "stage:{}"  # the runs-table id of each stage's record: started, then done with its seconds
# Paths sampled at a time while translating: about 0.1 s of planning on the full catalog, so the
# first conversation starts without waiting for the whole run's paths, and each later batch is
# planned while the requests in flight wait on the teacher.
SAMPLE_CHUNK = 32

current_stage: str | None = None
"""The stage this process is in (for the one line a Ctrl-C prints)."""

# A sharded run (shards.py) runs the stages before translation once, translation in every shard, and
# the stages after it once over the merged workspace.
BEFORE_TRANSLATE = frozenset({"import", "annotate", "graph", "mocks"})
AFTER_TRANSLATE = frozenset({"augment", "pairs", "stats", "export"})


@dataclass
class PipelineConfig:
    n: int = 20
    seed: int = 0
    sampler: Sampler = "graph"
    catalogs: list[Path] = field(default_factory=list)
    sample: SampleConfig = field(default_factory=SampleConfig)
    max_attempts: int = 3
    concurrency: int = 8
    workers: int | None = (
        None  # sandbox processes; None: 2 offline, else one per conversation in flight (192 at most)
    )
    mixture: Mixture = field(default_factory=Mixture)
    pairs: bool = True
    export_dir: Path | None = None
    lock_wait_s: float | None = None  # wait for another run on the workspace: None as long as it takes, 0 not
    formats: list[str] = field(default_factory=lambda: list(FORMATS))
    stages: frozenset[str] | None = None  # run only these stages (None: every one)


@dataclass
class PipelineReport:
    accepted: int = 0
    rejected: int = 0
    new_accepted: int = 0
    new_rejected: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    # translations started on speculation and not needed (their answers stay in the call log)
    dropped: int = 0
    pairs: int = 0
    refusal: dict[str, Any] = field(default_factory=dict)
    stats: str | None = None
    exported: dict[str, Any] = field(default_factory=dict)
    paths_sampled: int = 0
    exhausted: bool = False
    budget_spent: str | None = None
    stages: dict[str, float] = field(default_factory=dict)
    llm_calls: int = 0
    cache_hits: int = 0
    cost_usd: float = 0.0
    teacher: str = ""
    teachers: dict[str, str] = field(default_factory=dict)  # task group -> the teacher answering it
    teacher_calls: dict[str, Any] = field(default_factory=dict)  # RunStats.as_dict(): per task, this run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def per_accepted(self) -> dict[str, float]:
        """This run's teacher calls, tokens and cost per newly accepted conversation."""
        n = max(self.new_accepted, 1)
        calls = self.teacher_calls
        return {
            "calls": round(calls.get("calls", 0) / n, 2),
            "input_tokens": round(calls.get("input_tokens", 0) / n, 1),
            "output_tokens": round(calls.get("output_tokens", 0) / n, 1),
            "cost_usd": round(calls.get("cost_usd", 0.0) / n, 6),
        }


def _quiet(_stage: str, _done: int, _total: int | None, _info: dict[str, Any]) -> None:
    return None


def translator_for(
    store: Store, llm: LLM, pool: SandboxPool, *, seed: int = 0, max_attempts: int = 3
) -> Translator:
    """A translator over the workspace's tools and accepted mocks; tool outputs are simulated by the
    deterministic generator with the offline teacher, else by the teacher itself."""
    simulator = (
        DeterministicSimulator(seed=seed) if llm.offline_for("values") else TeacherSimulator(llm, seed=seed)
    )
    runtime = MockRuntime(pool, simulator)
    runtime.add(store.mocks(status="accepted"))
    return Translator(llm, runtime, {t.id: t for t in store.tools()}, max_attempts=max_attempts)


class Pipeline:
    """Runs the stages over one store with one teacher."""

    def __init__(
        self,
        store: Store,
        llm: LLM,
        config: PipelineConfig,
        progress: Progress | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.llm = llm
        self.config = config
        self.progress = progress or _quiet
        self.notice = notice
        self.report = PipelineReport(teacher=llm.teacher, teachers=llm.teachers)

    async def run(self) -> PipelineReport:
        """Every stage in order, holding the workspace lock (one run at a time: a second one waits,
        so ``--n`` is never overshot); stops early (with a report) when the budget is spent."""
        async with workspace_lock(self.store.workspace, wait_s=self.config.lock_wait_s, notice=self.notice):
            return await self._run()

    async def _run(self) -> PipelineReport:
        try:
            await self._stage("import", self.import_catalog)
            await self._stage("annotate", self.annotate)
            await self._stage("graph", self.graph)
            async with SandboxPool(self.workers) as pool:
                with remembered_checks(self.store, pool):
                    await self._stage("mocks", lambda: self.mocks(pool))
                    await self._stage("translate", lambda: self.translate(pool))
            await self._stage("augment", self.augment)
            if self.config.pairs:
                await self._stage("pairs", self.pairs)
            await self._stage("stats", self.stats)
            if self.config.export_dir is not None:
                await self._stage("export", self.export)
        except BudgetExceeded as exc:
            self.report.budget_spent = str(exc)
        finally:
            self.report.teacher_calls = self.llm.stats.as_dict()
        stats = self.llm.stats
        self.report.llm_calls, self.report.cache_hits, self.report.cost_usd = (
            stats.calls,
            stats.cache_hits,
            round(stats.cost_usd, 6),
        )
        return self.report

    @property
    def in_flight(self) -> int:
        """Conversations in flight, translations or refusal variants: enough to keep ``concurrency``
        teacher requests busy while some of them run simulated calls."""
        return items_in_flight(self.config.concurrency)

    @property
    def workers(self) -> int:
        """Sandbox processes. A simulated call holds its worker while the teacher invents the values,
        so with a remote teacher each conversation in flight needs one."""
        if self.config.workers is not None:
            return self.config.workers
        return 2 if self.llm.offline_for("values") else max(2, min(self.in_flight, 192))

    async def _stage(self, name: str, work: Callable[[], Any]) -> None:
        """Run one stage, recording in the runs table that it started and, with its seconds, that it
        finished (each stage skips what is done by itself; the record says how far a run got)."""
        if self.config.stages is not None and name not in self.config.stages:
            return
        global current_stage
        current_stage = name
        started, clock = time.time(), time.perf_counter()
        run_id = STAGE_RUN.format(name)
        self.store.record_run(run_id, name, "started", started, {})
        with self.store.batched_calls():  # one transaction per batch of logged teacher calls
            await work()
        self.report.stages[name] = round(time.perf_counter() - clock, 3)
        self.store.record_run(run_id, name, "done", started, {"seconds": self.report.stages[name]})
        current_stage = None

    async def import_catalog(self) -> None:
        """Import the given catalogs, or the bundled example when the workspace has no tools or an
        earlier run's import of it was killed halfway. Each import is marked started until it is done,
        under an id that names the catalog and its files (names, sizes, times): a done one is skipped,
        a killed or changed one is imported again (idempotent: whole servers, nothing duplicated)."""
        for source in self.config.catalogs:
            self._import(Path(source), catalog_run_id(Path(source)))
        if self.config.catalogs:
            return
        if self.store.count("tools") and self.store.run_status(EXAMPLE_IMPORT) != "started":
            return
        self._import(example_catalog(), EXAMPLE_IMPORT)

    def _import(self, source: Path, run_id: str) -> None:
        if self.store.run_status(run_id) == "done":
            return
        started = time.time()
        self.store.record_run(run_id, f"import {source}", "started", started, {})
        report = import_entries(self.store, read_catalog(source))
        self.progress("import", report.servers, report.servers, {"tools": report.counts.new})
        self.store.record_run(run_id, f"import {source}", "done", started, report.as_dict())

    async def annotate(self) -> None:
        total = self.store.count("tools")
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            self.progress("annotate", done, total, {})

        report = await annotate_tools(self.store, self.llm, progress=advance)
        if report.failed and not report.annotated:
            raise GraphToucanError(f"annotation failed for every tool: {report.failed[0][1]}")

    async def graph(self) -> None:
        """Build the graph, or keep the saved one when no tool changed since it was built."""
        await build_graph(
            self.store,
            self.llm,
            reuse=True,
            progress=lambda stage, done, total: self.progress(f"graph: {stage}", done, total, {}),
        )

    async def mocks(self, pool: SandboxPool) -> None:
        done = 0
        total = self.store.count("tools")

        def advance() -> None:
            nonlocal done
            done += 1
            self.progress("mocks", done, total, {})

        await build_mocks(self.store, self.llm, pool, concurrency=2 * self.workers, progress=advance)

    # -- translation ---------------------------------------------------------------------------------
    def _counts(self) -> tuple[int, int]:
        return self.store.translation_counts(self.llm.teacher, self.config.sampler, self.config.seed)

    async def translate(self, pool: SandboxPool) -> None:
        """Translate stream paths, ``in_flight`` at a time, until ``n`` are accepted,
        sampling more paths as needed.

        Paths start in stream order, and a path starts only while ``accepted + in flight < n``: so
        ``n`` is never overshot and the accepted set is the shortest prefix of the stream with ``n``
        accepted conversations (a path's translation does not depend on when it runs), the same for
        one run and for any number of killed and resumed ones. A conversation that finishes frees
        its slot at once (no waiting for the slowest of a wave); of the paths certainly needed the
        longest start first, and free slots take the next paths on speculation (see
        ``streaming.until_accepted``). Paths are read from the store in batches after the last one
        read, and the stream is extended where it stopped."""
        c = self.config
        translator = translator_for(self.store, self.llm, pool, seed=c.seed, max_attempts=c.max_attempts)
        _freeze_long_lived()
        accepted, rejected = self._counts()
        start_accepted, start_rejected = accepted, rejected
        self.progress("translate", accepted, c.n, {"accepted": accepted, "rejected": rejected, "cost": 0.0})
        feed: PathFeed | None = None
        queued: deque[PlannedPath] = deque()
        after: tuple[int, str] | None = None
        batch = max(64, 2 * self.in_flight)

        async def one(path: PlannedPath) -> Conversation | LLMError:
            try:
                return await translator.translate(path, seed=c.seed)
            except BudgetExceeded:
                raise
            except LLMError as exc:
                return exc

        def stream() -> Iterator[PlannedPath]:
            nonlocal feed, after
            while True:
                if not queued:
                    queued.extend(
                        self.store.untranslated_paths(
                            self.llm.teacher, c.sampler, c.seed, after=after, limit=batch
                        )
                    )
                if not queued:
                    if self.report.exhausted:
                        return
                    if feed is None:
                        tools = list(translator.tools.values())
                        index = population(self.store, c.sampler, c.sample, tools)
                        feed = PathFeed(self.store, c.sampler, c.seed, c.sample, index=index)
                        _freeze_long_lived()
                    new = feed.extend(SAMPLE_CHUNK)
                    self.report.paths_sampled += new
                    if not new:
                        self.report.exhausted = True  # the stream has no more distinct paths
                    continue
                path = queued.popleft()
                path_id = path.id
                after = (path.index, path_id)
                if path_id not in self.report.failed:
                    yield path

        def finished(path: PlannedPath, conversation: Conversation | LLMError | None, done: int) -> None:
            """Store a kept translation (``until_accepted`` keeps only the needed ones)."""
            nonlocal accepted, rejected
            if not isinstance(conversation, Conversation):
                self.report.failed[path.id] = str(conversation)  # not stored: the next run tries it again
                return
            self.store.add_conversation(conversation, position=path.index)
            accepted = done
            rejected += conversation.status == "rejected"
            self.progress(
                "translate",
                accepted,
                c.n,
                {"accepted": accepted, "rejected": rejected, "cost": round(self.llm.stats.cost_usd, 4)},
            )

        def dropped(_path: PlannedPath) -> None:
            self.report.dropped += 1

        accepted = await until_accepted(
            stream(),
            one,
            accepted=lambda result: isinstance(result, Conversation) and result.status == "accepted",
            target=c.n,
            done=accepted,
            concurrency=self.in_flight,
            finished=finished,
            longest_first=_expected_length,
            dropped=dropped,
        )
        self.report.accepted, self.report.rejected = accepted, rejected
        self.report.new_accepted, self.report.new_rejected = (
            accepted - start_accepted,
            rejected - start_rejected,
        )
        every_item_failed(
            "translation",
            "paths tried",
            self.report.failed,
            accepted - start_accepted + rejected - start_rejected,
        )

    async def augment(self) -> None:
        """Refusal variants of the accepted translations, to the mixture's shares."""
        report = await augment(
            self.store,
            self.llm,
            self.config.mixture,
            seed=self.config.seed,
            max_attempts=self.config.max_attempts,
            concurrency=self.in_flight,
            progress=lambda kind, done, total: self.progress(f"augment {kind}", done, total, {}),
        )
        self.report.refusal = report.as_dict()

    async def pairs(self) -> None:
        """Preference pairs for accepted conversations that have none yet."""

        def advance(done: int, total: int, made: int) -> None:
            self.progress("pairs", done, total, {"pairs": made})

        self.report.pairs += await make_pairs(self.store, self.llm, progress=advance)

    async def stats(self) -> None:
        """The statistics report of this teacher's conversations, in ``<workspace>/stats``."""
        if not self.store.conversation_count(teacher=self.llm.teacher):
            return
        paths = write_stats(
            compute_stats(self.store, teacher=self.llm.teacher), self.store.workspace / "stats"
        )
        self.report.stats = str(paths["markdown"])

    async def export(self) -> None:
        assert self.config.export_dir is not None
        report = export(
            self.store,
            self.config.export_dir,
            self.config.formats,
            seed=self.config.seed,
            teacher=self.llm.teacher,
            sampler=self.config.sampler,
        )
        self.report.exported = {"out": str(report.out), "rows": report.rows, "warnings": report.warnings}


async def make_pairs(
    store: Store,
    llm: LLM,
    conversations: list[Conversation] | None = None,
    *,
    progress: Callable[[int, int, int], None] | None = None,
) -> int:
    """Preference pairs (built by rule, see distill.py) of ``conversations`` (default: this teacher's
    accepted conversations of every kind, refusal variants included: they give the pairs that reward
    asking and declining), skipping those that have pairs already; returns how many new pairs were
    stored. ``progress(done, total, pairs)`` after each conversation."""
    with_pairs = store.paired_conversations()
    todo: Iterable[Conversation]
    if conversations is None:
        ids = [
            i for i in store.conversation_ids(status="accepted", teacher=llm.teacher) if i not in with_pairs
        ]
        todo, total = store.conversations_by_ids(ids), len(ids)
    else:
        todo = [c for c in conversations if c.id not in with_pairs]
        total = len(todo)
    made = 0
    pending: list[PreferencePair] = []
    for i, conversation in enumerate(todo, start=1):
        pending.extend(distill_conversation(conversation))
        if len(pending) >= 512:  # one transaction per batch of pairs
            made += store.add_pairs(pending)
            pending = []
        if progress:
            progress(i, total, made + len(pending))
    made += store.add_pairs(pending)
    return made


def catalog_run_id(source: Path) -> str:
    """The runs-table id of one catalog's import: its resolved path and, per file, name, size and
    modification time (a changed catalog is a new import; stat only, nothing is read)."""
    root = source.resolve()
    files = sorted(root.rglob("*")) if root.is_dir() else [root]
    listing = []
    for file in files:
        try:
            info = file.stat()
        except OSError:
            continue
        listing.append(
            (str(file.relative_to(root)) if root.is_dir() else file.name, info.st_size, info.st_mtime_ns)
        )
    return "import:" + content_id({"path": str(root), "files": listing})


def _expected_length(path: PlannedPath) -> int:
    """How long a path's translation takes, in units of one teacher request: each turn asks for a
    query and an answer, each call for its arguments and its values (through a 100 ms endpoint on
    the full catalog, turns plus calls correlate at 0.86 with a translation's seconds)."""
    return len(path.turns) + len(path.calls)


def _freeze_long_lived() -> None:
    """Collect, then exempt what is alive now (tools, mocks, the graph: millions of objects on a large
    catalog) from later collections: a full collection over them stalls every conversation in flight
    for a fifth of a second, several times a minute. Objects freed by reference counting still go."""
    gc.collect()
    gc.freeze()


async def run_pipeline(
    store: Store,
    llm: LLM,
    config: PipelineConfig | None = None,
    progress: Progress | None = None,
    notice: Callable[[str], None] | None = None,
) -> PipelineReport:
    """Run every stage (see the module docstring); returns what was done."""
    return await Pipeline(store, llm, config or PipelineConfig(), progress, notice).run()
