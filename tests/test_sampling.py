"""Sampling settings, the two samplers' streams, byte-for-byte determinism, storage and statistics."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest

import graph_toucan.sampling as sampling
from graph_toucan.graph_index import GraphIndex, SamplingError
from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.path_feed import PathFeed
from graph_toucan.path_stats import path_stats
from graph_toucan.pipeline import BEFORE_TRANSLATE, PipelineConfig, run_pipeline
from graph_toucan.sampling import (
    SampleConfig,
    baseline_tools,
    check_population,
    graph_paths,
    load_config,
    population,
    random_paths,
    sample_paths,
)
from graph_toucan.store import Store
from tests.conftest import ROOT
from tests.sampling_graphs import assert_path_valid, travel_graph, travel_servers_and_tools

GRAPH = travel_graph()
INDEX = GraphIndex.from_digraph(GRAPH)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"operations": {"merge": 1.5}},
            "operations.merge: Input should be less than or equal to 1 (got 1.5)",
        ),
        (
            {"operations": {"split": -1}},
            "operations.split: Input should be greater than or equal to 0 (got -1)",
        ),
        ({"walk": {"max_steps": 0}}, "walk.max_steps: Input should be greater than or equal to 1 (got 0)"),
        ({"distractors": -2}, "distractors: Input should be greater than or equal to 0 (got -2)"),
        ({"walk": {"steps": 3}}, "walk.steps: Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_name_the_setting_and_the_range(settings, message):
    with pytest.raises(SamplingError, match="invalid sampling settings") as error:
        load_config(settings)
    assert message in str(error.value)
    assert "fix them in the config or options" in str(error.value)


def test_settings_from_a_file_with_overrides(tmp_path: Path):
    path = tmp_path / "sampling.json"
    path.write_text(json.dumps({"walk": {"max_steps": 3}, "operations": {"merge": 0.9}}))
    config = load_config(path, **{"walk.max_steps": 2, "distractors": 6, "operations.split": None})
    assert (config.walk.max_steps, config.operations.merge, config.distractors) == (2, 0.9, 6)
    assert config.operations.split == SampleConfig().operations.split
    path.write_text("{not json")
    with pytest.raises(
        SamplingError, match=r"cannot read the sampling config .*sampling.json.*give a JSON file"
    ):
        load_config(path)
    with pytest.raises(SamplingError, match="max_steps: Input should be greater than or equal to 1"):
        load_config(None, **{"walk.max_steps": 0})


def test_more_distractors_than_tools_is_a_clear_error():
    with pytest.raises(
        SamplingError, match=r"distractors=9 but there are only 9 tools.*use at most 8 distractors"
    ):
        next(graph_paths(INDEX, SampleConfig(distractors=9), seed=0))
    check_population(INDEX, SampleConfig(distractors=8))
    with pytest.raises(SamplingError, match="no tools to sample from"):
        check_population(GraphIndex([]), SampleConfig())


def test_the_graph_stream_ends_when_the_distinct_walks_run_out():
    config = SampleConfig.model_validate({"walk": {"max_steps": 3, "patience": 60}})
    paths = list(graph_paths(INDEX, config, seed=11))
    # The travel graph has 20 simple paths of 1 to 3 edges; the one that starts at book_flight (its
    # flight_id only a search gives) is not walked, so 19 become paths.
    assert len(paths) == 19 and len({p.id for p in paths}) == 19
    for path in paths:
        assert_path_valid(path, GRAPH, config.distractors)
    with pytest.raises(SamplingError, match="only apply to the graph sampler"):
        sample_paths("random", INDEX, config, 0, starts=["get_user"])


def test_the_random_baseline_is_toucans_tag_sampler():
    config = SampleConfig.model_validate({"baseline": {"patience": 200}, "distractors": 2})
    paths = list(random_paths(INDEX, config, seed=4))
    tag_groups: dict[str, set[str]] = {}
    for node in INDEX.nodes.values():
        for tag in node.tags:
            tag_groups.setdefault(tag, set()).add(node.id)
    expected = set()
    for members in tag_groups.values():
        for size in (1, 2, 3):
            expected.update(frozenset(c) for c in itertools.combinations(sorted(members), size))
    # a set with a tool that needs an issued id (book_flight's flight_id) has no call to give it one
    expected = {s for s in expected if not any(INDEX.nodes[t].issued_required for t in s)}
    assert {frozenset(c.tool_id for c in p.calls) for p in paths} == expected
    assert all(len(p.turns) == 1 and not p.dependencies and p.sampler == "random" for p in paths)
    assert {len(p.calls) for p in paths} == {1, 2, 3}


def test_baseline_population_is_the_annotated_tools():
    _, tools = travel_servers_and_tools()
    plain = tools[0].model_copy(update={"tags": [], "tool_class": None})
    assert baseline_tools([plain, *tools[1:]]) == tools[1:]
    with pytest.raises(SamplingError, match="run 'graph-toucan annotate' first"):
        baseline_tools([plain])


_SCRIPT = """
import itertools, json, sys
import networkx as nx
from graph_toucan.graph_index import GraphIndex
from graph_toucan.sampling import SampleConfig, graph_paths, random_paths
graph = nx.node_link_graph(json.loads(open(sys.argv[1]).read()), directed=True, edges="edges")
index = GraphIndex.from_digraph(graph)
config = SampleConfig.model_validate({"operations": {"merge": 0.5, "insert_short": 0.5, "split": 0.5}})
for path in itertools.chain(graph_paths(index, config, 3), itertools.islice(random_paths(index, config, 3), 30)):
    sys.stdout.write(path.model_dump_json() + "\\n")
"""


def test_same_seed_same_bytes_in_any_process(tmp_path: Path):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(nx.node_link_data(GRAPH, edges="edges")))
    outputs = []
    for hash_seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(graph_file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") > 30
    config = SampleConfig.model_validate({"operations": {"merge": 0.5, "insert_short": 0.5, "split": 0.5}})
    here = itertools.chain(
        graph_paths(INDEX, config, 3), itertools.islice(random_paths(INDEX, config, 3), 30)
    )
    assert outputs[0] == "".join(p.model_dump_json() + "\n" for p in here)


def test_storing_paths_is_idempotent_and_round_trips(tmp_path: Path):
    store = Store(tmp_path / "gt.db")
    paths = list(graph_paths(INDEX, SampleConfig(), seed=0))
    assert store.add_paths(paths[:10], run_id="r1") == 10
    assert store.add_paths(paths, run_id="r2") == len(paths) - 10
    assert store.add_paths(paths, run_id="r3") == 0
    assert store.path_count() == len(paths) and store.path_count("random") == 0
    assert [p.model_dump() for p in store.paths()] == [p.model_dump() for p in paths]
    one = paths[5]
    assert store.get_path(one.id) == one
    assert store.get_path(one.id[:8]) == one
    assert store.get_path("zzzz") is None and store.get_path(one.id[:2]) is None
    rows = store.db.execute(
        "select sampler, seed, position, n_turns, n_calls, run_id from paths where id = ?", [one.id]
    )
    assert rows.fetchone() == ("graph", 0, 5, len(one.turns), len(one.calls), "r1")


def test_statistics_count_what_the_paths_hold():
    config = SampleConfig.model_validate({"walk": {"patience": 60, "second_task": 0}, "distractors": 2})
    paths = list(graph_paths(INDEX, config, seed=2))
    figures = path_stats(paths).as_dict(tools_total=9, servers_total=6)
    turns = [len(p.turns) for p in paths]
    calls = [len(t.calls) for p in paths for t in p.turns]
    assert figures["paths"] == len(paths)
    assert figures["turns"]["mean"] == round(sum(turns) / len(turns), 3)
    assert figures["turns"]["histogram"] == {str(k): turns.count(k) for k in sorted(set(turns))}
    assert figures["calls_per_turn"]["mean"] == round(sum(calls) / len(calls), 3)
    assert sum(v["count"] for v in figures["turn_types"].values()) == len(calls)
    assert figures["turn_types"]["empty"]["count"] == sum(t.split is not None for p in paths for t in p.turns)
    deps = [d for p in paths for d in p.dependencies]
    assert figures["dependency_types"] == dict(Counter(d.type for d in deps).most_common())
    assert set(figures["dependency_types"]) == {"full", "partial", "prerequisite"}
    assert sum(figures["dependency_origins"].values()) == len(deps)
    assert figures["distractors"]["histogram"] == {"2": len(paths)}
    assert figures["tools_used"] == 9 and figures["tool_coverage"] == 1.0
    assert figures["servers_used"] == 6 and figures["server_coverage"] == 1.0


# -- feeds on the bundled example catalog: resuming from the cursor -------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the bundled example catalog imported, annotated, graphed and mocked (offline)."""
    folder = tmp_path_factory.mktemp("example")
    store = Store.open(folder)
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), PipelineConfig(stages=BEFORE_TRANSLATE)))
    store.close()
    return folder


def _copy(example: Path, folder: Path) -> Store:
    shutil.copytree(example, folder)
    return Store.open(folder)


def _stored_data(store: Store, sampler: str, seed: int) -> list[str]:
    """The stored paths of a stream, as the bytes in the store, in stream order."""
    rows = store.db.execute(
        "select data from paths where sampler = ? and seed = ? order by position", [sampler, seed]
    )
    return [row[0] for row in rows]


def _counting_to_path(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the paths the samplers build (one per tool set drawn for the first time and kept)."""
    built: list[int] = []
    real = sampling.to_path

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sampling, "to_path", counting)
    return built


@pytest.mark.parametrize("shard", [None, (1, 2)])
def test_a_random_feed_resumes_from_its_cursor_without_drawing_again(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shard: tuple[int, int] | None
):
    config = SampleConfig(shard=shard)
    store = _copy(example, tmp_path / "ws")
    index = population(store, "random", config)
    built = _counting_to_path(monkeypatch)
    fresh = list(itertools.islice(random_paths(index, config, 5), 50))
    assert len(fresh) == 50
    in_fresh = len(built)
    built.clear()

    assert PathFeed(store, "random", 5, config).take(30) == [p.id for p in fresh[:30]]
    in_first = len(built)
    built.clear()
    again = PathFeed(store, "random", 5, config)
    assert again.resumed == 30 and again.stored == 30
    assert again.extend(20) == 20
    # The resumed feed built only the paths after the cursor: the two feeds together built what one
    # uninterrupted stream does, so no tool set was drawn (and kept) twice.
    assert in_first + len(built) == in_fresh
    assert _stored_data(store, "random", 5) == [p.model_dump_json(exclude={"id"}) for p in fresh]
    assert again.stored_ids() == [p.id for p in fresh]
    draws = store.stream_draws(again.key)
    assert len(draws) == len(set(draws)) == len(again.cursor.seen)  # every set drawn, each once
    assert set(draws) >= {frozenset(c.tool_id for c in p.calls) for p in fresh}
    store.close()


@pytest.mark.parametrize("lost", ["draws", "paths"])
def test_a_random_cursor_whose_records_are_gone_replays_the_stream(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lost: str
):
    config = SampleConfig()
    store = _copy(example, tmp_path / "ws")
    fresh = list(itertools.islice(random_paths(population(store, "random", config), config, 2), 50))
    first = PathFeed(store, "random", 2, config)
    first.take(30)
    if lost == "draws":
        store.db.execute("delete from stream_draws where number >= 10")
    else:
        store.db.execute("delete from paths where position >= 25")
    built = _counting_to_path(monkeypatch)
    again = PathFeed(store, "random", 2, config)
    assert again.resumed == 0  # the cursor cannot be trusted: start over
    assert again.take(50) == [p.id for p in fresh]
    assert len(built) >= 50  # the stream was replayed from its first draw
    assert _stored_data(store, "random", 2) == [p.model_dump_json(exclude={"id"}) for p in fresh]
    assert len(store.stream_draws(again.key)) == len(again.cursor.seen)
    resumed = PathFeed(store, "random", 2, config)
    assert resumed.resumed == 50  # the replay recorded a cursor of its own
    store.close()


@pytest.mark.parametrize("sampler", ["graph", "random"])
def test_a_batch_and_its_cursor_are_written_together(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sampler: str
):
    config = load_config(None, **{"walk.max_steps": 1, "walk.second_task": 0})
    store = _copy(example, tmp_path / "ws")
    feed = PathFeed(store, sampler, 0, config)
    feed.take(10, batch=5)

    def draws() -> int:
        return store.count("stream_draws") if sampler == "random" else 0

    before = draws()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run is killed after writing the batch's paths, before its cursor

    monkeypatch.setattr(store, "record_run", killed)
    with pytest.raises(KeyboardInterrupt):
        feed.take(5)
    monkeypatch.undo()
    assert store.path_count(sampler) == 10 and draws() == before  # nothing of the killed batch
    again = PathFeed(store, sampler, 0, config)
    assert again.resumed == 10
    ids = again.take(5)
    fresh = list(itertools.islice(sample_paths(sampler, population(store, sampler, config), config, 0), 15))
    assert again.stored_ids() == [p.id for p in fresh] and ids == [p.id for p in fresh[10:]]
    store.close()
