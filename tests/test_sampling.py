"""Sampling settings, the two samplers' streams, byte-for-byte determinism, storage and statistics."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest

from graph_toucan.graph_index import GraphIndex, SamplingError
from graph_toucan.path_stats import path_stats
from graph_toucan.sampling import (
    SampleConfig,
    baseline_tools,
    check_population,
    graph_paths,
    load_config,
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
