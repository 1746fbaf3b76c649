"""Property-based tests: sampled paths obey every rule, on any graph that follows graph.py's contract."""

from __future__ import annotations

import itertools

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_toucan.graph_index import GraphIndex
from graph_toucan.sampling import SampleConfig, graph_paths, random_paths
from graph_toucan.walks import WalkConfig, walk_stream
from tests.sampling_graphs import assert_path_valid, random_graphs

PROBABILITY = st.sampled_from([0.0, 0.3, 0.7, 1.0])
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw: st.DrawFn, graph: nx.DiGraph) -> SampleConfig:
    max_calls = draw(st.integers(1, 5))
    return SampleConfig.model_validate(
        {
            "walk": {
                "max_steps": draw(st.integers(1, 4)),
                "min_steps": draw(st.integers(0, 1)),
                "walks_per_start": draw(st.integers(1, 3)),
                "patience": 3,
                "edge_weights": draw(
                    st.sampled_from(
                        [
                            {},
                            {"prerequisite": 0},
                            {"full": 0, "partial": 5, "prerequisite": 1},
                            {"full": 1, "partial": 0, "prerequisite": 0},
                        ]
                    )
                ),
            },
            "operations": {
                "merge": draw(PROBABILITY),
                "max_merge_calls": draw(st.integers(1, max_calls)),
                "insert_short": draw(PROBABILITY),
                "insert_long": draw(PROBABILITY),
                "split": draw(PROBABILITY),
                "miss_func_share": draw(PROBABILITY),
                "max_calls_per_turn": max_calls,
            },
            "distractors": draw(st.integers(0, graph.number_of_nodes() - 1)),
        }
    )


@st.composite
def graphs_and_configs(draw: st.DrawFn) -> tuple[nx.DiGraph, SampleConfig, int]:
    graph = draw(random_graphs())
    return graph, draw(configs(graph)), draw(st.integers(0, 2**32))


def _sample(graph: nx.DiGraph, config: SampleConfig, seed: int, n: int = 40) -> list:
    index = GraphIndex.from_digraph(graph, config.walk.edge_weights)
    if not any(config.walk.min_steps == 0 or index.out_edges(t) for t in index.ids):
        return []
    return list(itertools.islice(graph_paths(index, config, seed), n))


@FAST
@given(graphs_and_configs())
def test_graph_paths_obey_every_rule(case):
    graph, config, seed = case
    paths = _sample(graph, config, seed)
    for path in paths:
        assert_path_valid(path, graph, config.distractors)
    assert len({p.id for p in paths}) == len(paths), "no duplicate paths"
    assert [p.index for p in paths] == list(range(len(paths)))


@FAST
@given(graphs_and_configs())
def test_same_seed_same_paths_and_streams_are_prefix_stable(case):
    graph, config, seed = case
    first = [p.model_dump_json() for p in _sample(graph, config, seed, 20)]
    assert first == [p.model_dump_json() for p in _sample(graph, config, seed, 20)]
    longer = [p.model_dump_json() for p in _sample(graph, config, seed, 40)]
    assert longer[: len(first)] == first


@FAST
@given(random_graphs(), st.integers(1, 4), st.integers(0, 2**32))
def test_walks_follow_edges_never_revisit_and_are_distinct(graph, max_steps, seed):
    config = WalkConfig(max_steps=max_steps, patience=3)
    index = GraphIndex.from_digraph(graph, config.edge_weights)
    if not any(index.out_edges(t) for t in index.ids):
        return
    walks = list(itertools.islice(walk_stream(index, config, seed), 200))
    assert len({w.tools for w in walks}) == len(walks)
    for walk in walks:
        assert 1 <= len(walk.edges) <= max_steps
        assert len(set(walk.tools)) == len(walk.tools)
        for (a, b), edge in zip(itertools.pairwise(walk.tools), walk.edges, strict=True):
            assert graph.has_edge(a, b) and (edge.source, edge.target) == (a, b)


@FAST
@given(random_graphs(), st.integers(1, 3), st.integers(0, 2**32))
def test_random_baseline_picks_tools_sharing_a_tag(graph, max_tools, seed):
    index = GraphIndex.from_digraph(graph)
    if not any(n.tags for n in index.nodes.values()):
        return
    config = SampleConfig.model_validate(
        {"baseline": {"max_tools": max_tools, "patience": 50}, "distractors": 0}
    )
    paths = list(itertools.islice(random_paths(index, config, seed), 30))
    assert paths
    seen = set()
    for path in paths:
        assert_path_valid(path, graph, 0)
        (turn,) = path.turns
        tools = [c.tool_id for c in turn.calls]
        assert 1 <= len(tools) <= max_tools and turn.type == "normal" and not path.dependencies
        shared = set.intersection(*(set(index.nodes[t].tags) for t in tools))
        assert shared, "the tools share a tag"
        assert frozenset(tools) not in seen
        seen.add(frozenset(tools))
