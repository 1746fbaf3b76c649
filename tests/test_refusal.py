"""Refusal augmentation on real translated conversations: the three shapes of docs/method.md section 7,
verified; the mixture's shares; resumable; a teacher that leaks the withheld value is caught."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from graph_toucan.ids import content_id
from graph_toucan.llm import LLM, OfflineBackend, ScriptedBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import Conversation
from graph_toucan.refusal import Augmenter, Mixture, augment, miss_param_sites
from graph_toucan.sampling import load_config
from graph_toucan.store import Store
from graph_toucan.tracing import value_in_text
from graph_toucan.verify import verify
from tests.fakes import PromptBook, first_user_prompt

MIXTURE = Mixture(irrelevance=0.15, miss_func=0.1, miss_params=0.1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("refusal"))
    config = PipelineConfig(
        n=40, mixture=MIXTURE, pairs=False, sample=load_config(None, **{"operations.split": 0.2})
    )
    report = asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
    assert report.accepted == 40
    return store


def _variants(store: Store, kind: str) -> list[tuple[Conversation, Conversation]]:
    sources = {c.id: c for c in store.conversations(kind="translation")}
    return [(v, sources[v.source_id]) for v in store.conversations(kind=kind, status="accepted")]


def test_mixture_targets() -> None:
    assert Mixture().targets(75) == {"miss-func": 5, "miss-params": 5, "irrelevance": 15}
    assert MIXTURE.targets(65) == {"miss-func": 10, "miss-params": 10, "irrelevance": 15}
    with pytest.raises(ValueError):
        Mixture(irrelevance=0.5, miss_func=0.3, miss_params=0.3).targets(10)


def test_the_run_meets_the_mixture(store: Store) -> None:
    targets = MIXTURE.targets(40)
    accepted = {k: store.conversation_count(kind=k, status="accepted") for k in targets}
    assert accepted == targets
    total = 40 + sum(accepted.values())
    assert abs(accepted["irrelevance"] / total - 0.15) < 0.02


def test_miss_func_is_q_a1_q1_a(store: Store) -> None:
    variants = _variants(store, "miss-func")
    assert variants
    for variant, source in variants:
        assert len(variant.turns) == len(source.turns) + 1
        # after the site the variant is the source shifted by one turn
        k = min(j for j in range(len(source.turns) + 1) if variant.turns[j + 1 :] == source.turns[j:]) - 1
        empty, resumed = variant.turns[k], variant.turns[k + 1]
        withheld = next(t.name for t in variant.tools if t.tool_id == empty.split.tool_id)
        assert empty.user == source.turns[k].user and "can't" in empty.assistant  # Q, then A1
        # A1 makes every call of the turn that does not need the withheld tool; Q1's turn the rest
        assert withheld not in {c.name for c in empty.calls}
        assert sorted(c.id for c in empty.calls + resumed.calls) == sorted(
            c.id for c in source.turns[k].calls
        )
        needing = {empty.split.call} | {d.target for d in source.dependencies if d.source == empty.split.call}
        assert all(c.plan not in needing for c in empty.calls)
        assert all(withheld in t.unavailable for t in variant.turns[: k + 1])  # removed up to that point
        assert withheld not in resumed.unavailable  # Q1 makes it available
        if not empty.calls:  # A, as it was
            assert resumed.steps == source.turns[k].steps and resumed.assistant == source.turns[k].assistant
        assert variant.turns[k + 2 :] == source.turns[k + 1 :]
        assert all(c.passed for c in verify(variant)) and variant.source_id == source.id


def test_miss_params_is_q1_a1_q2_a(store: Store) -> None:
    variants = _variants(store, "miss-params")
    assert variants
    for variant, source in variants:
        k = next(i for i, (t, u) in enumerate(zip(variant.turns, source.turns, strict=False)) if t != u)
        empty, resumed = variant.turns[k], variant.turns[k + 1]
        parameter = empty.split.parameter
        call = next(c for c in resumed.calls if c.plan == empty.split.call)
        value = call.arguments[parameter]
        assert value_in_text(value, source.turns[k].user)
        assert not value_in_text(value, empty.user)  # Q1 leaves it out
        assert parameter in empty.refused and call.plan not in {c.plan for c in empty.calls}  # A1 asks
        assert value_in_text(value, resumed.user)  # Q2 gives it
        # the calls that do not wait for the value are made at once, the rest after Q2
        assert sorted(c.id for c in empty.calls + resumed.calls) == sorted(
            c.id for c in source.turns[k].calls
        )
        assert all(c.passed for c in verify(variant))


def test_irrelevance_is_declined_without_a_call(store: Store) -> None:
    variants = _variants(store, "irrelevance")
    assert len(variants) == MIXTURE.targets(40)["irrelevance"]
    catalog = {t.ref: t for t in store.tools()}
    requests = set()
    for variant, source in variants:
        assert len(variant.turns) == 1 and not variant.calls
        assert variant.tools == source.tools
        check = next(c for c in variant.checks if c.name == "irrelevant_request")
        assert check.passed and "can't" in variant.turns[0].assistant
        # what it asks for is what another server's tool does: a real need, just not one served here
        wanted = catalog[variant.turns[0].wanted]
        assert wanted.server_name not in {t.tool.rsplit("/", 1)[0] for t in variant.tools}
        assert wanted.tool_class != "computation"
        requests.add(variant.turns[0].user)
    assert len(requests) == len(variants)  # drawn from the catalog, not a fixed list


def test_an_irrelevance_request_that_needs_no_tool_or_that_a_tool_serves_fails(store: Store) -> None:
    variant, source = _variants(store, "irrelevance")[0]
    turn = variant.turns[0]
    chat = turn.model_copy(update={"user": "Write me a short poem about autumn leaves.", "wanted": None})
    asked = next(t for t in source.turns if t.calls and t.split is None)
    offered = asked.calls[0]
    served = turn.model_copy(update={"user": asked.user})  # what an offered tool did in the source
    for broken in (chat, served):
        checks = verify(variant.model_copy(update={"turns": [broken]}))
        assert not next(c for c in checks if c.name == "irrelevant_request").passed, broken.user
    assert offered.name in {t.name for t in variant.tools}


def test_augment_again_adds_nothing(store: Store) -> None:
    before = store.count("conversations")
    report = asyncio.run(augment(store, LLM(OfflineBackend(), store), MIXTURE))
    assert sum(report.made.values()) == 0 and store.count("conversations") == before


def test_a_teacher_that_leaks_the_withheld_value_is_rejected_with_reasons(store: Store) -> None:
    source = next(
        c for c in store.conversations(kind="translation", status="accepted") if miss_param_sites(c)
    )
    book = PromptBook().install()

    def leaky(request: dict[str, Any]) -> str:
        name, inputs, answer = book.offline_answer(first_user_prompt(request))
        if name == "refusal_rewrite":
            answer["query"] = inputs["query"]  # keeps the value it was told to remove
        return json.dumps(answer)

    try:
        backend = ScriptedBackend([leaky] * 200)
        llm = LLM(backend, store)
        variant = asyncio.run(Augmenter(llm, max_attempts=2).variant(source, "miss-params"))
    finally:
        book.uninstall()
    assert variant is not None and variant.status == "rejected"
    assert any(
        r.startswith("value_supplied") or r.startswith("mentions_stated") or "value" in r
        for r in variant.reasons
    )
    retried = [r for r in backend.requests if "failed these checks" in r["messages"][0]["content"]]
    assert retried  # the second attempt carried the failures as feedback
    assert variant.id == content_id(
        "conversation", source.path_id, "miss-params", source.id, llm.teacher, source.seed
    )
