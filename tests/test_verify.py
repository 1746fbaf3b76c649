"""Verification catches each way a conversation can go wrong: real accepted conversations from the
example catalog, each broken in one way, fail exactly the rule that guards it."""

from __future__ import annotations

import asyncio
import json

import pytest

from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import Conversation, SplitDetail, Turn
from graph_toucan.sampling import load_config
from graph_toucan.store import Store
from graph_toucan.tracing import value_in_text
from graph_toucan.verify import verify

BUSY = {
    "operations.merge": 0.5,
    "operations.insert_short": 0.6,
    "operations.insert_long": 0.7,
    "operations.split": 0.8,
}


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> list[Conversation]:
    store = Store.open(tmp_path_factory.mktemp("verify"))
    config = PipelineConfig(n=40, seed=3, sample=load_config(None, **BUSY), pairs=False)
    asyncio.run(run_pipeline(store, LLM(OfflineBackend(), store), config))
    return list(store.conversations(status="accepted", kind="translation"))


def _failed(conversation: Conversation) -> set[str]:
    return {c.name for c in verify(conversation) if not c.passed}


def _with_turn(conversation: Conversation, k: int, **update: object) -> Conversation:
    turns = list(conversation.turns)
    turns[k] = turns[k].model_copy(update=update)
    return conversation.model_copy(update={"turns": turns})


def _find(conversations: list[Conversation], want) -> tuple[Conversation, int, Turn]:
    for conversation in conversations:
        for k, turn in enumerate(conversation.turns):
            if want(conversation, k, turn):
                return conversation, k, turn
    raise AssertionError("no example in the accepted conversations")


def test_accepted_conversations_pass(accepted: list[Conversation]) -> None:
    assert len(accepted) == 40
    assert all(not _failed(c) for c in accepted)


def test_a_function_name_in_the_query_fails(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(accepted, lambda c, k, t: any("_" in x.name for x in c.tools) and t.calls)
    name = next(t.name for t in conversation.tools if "_" in t.name)
    assert _failed(_with_turn(conversation, k, user=f"{turn.user} Use {name} for it.")) == {
        "no_function_names"
    }


def test_an_invented_value_fails(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(
        accepted,
        lambda c, k, t: any(
            tr.source == "query" and isinstance(c_.arguments[tr.name], str)
            for c_ in t.calls
            for tr in c_.trace
        ),
    )
    call = next(
        c
        for c in turn.calls
        if any(t.source == "query" and isinstance(c.arguments[t.name], str) for t in c.trace)
    )
    name = next(t.name for t in call.trace if t.source == "query" and isinstance(call.arguments[t.name], str))
    invented = call.model_copy(update={"arguments": {**call.arguments, name: "Zanzibar-4471"}})
    steps = [[invented if c is call else c for c in step] for step in turn.steps]
    assert "values_traceable" in _failed(_with_turn(conversation, k, steps=steps))


def test_an_unrealised_dependency_fails(accepted: list[Conversation]) -> None:
    def has_dep(c: Conversation, k: int, t: Turn) -> bool:
        plans = {x.plan for x in t.calls}
        return any(d.target in plans and d.input and d.type != "prerequisite" for d in c.dependencies)

    conversation, k, turn = _find(accepted, has_dep)
    dep = next(d for d in conversation.dependencies if d.target in {x.plan for x in turn.calls} and d.input)
    call = next(c for c in turn.calls if c.plan == dep.target)
    wrong = call.model_copy(update={"arguments": {**call.arguments, dep.input: "not-from-the-source"}})
    steps = [[wrong if c is call else c for c in step] for step in turn.steps]
    # a planned input is judged by the dependency alone: the value must be the source's
    assert "dependencies_realised" in _failed(_with_turn(conversation, k, steps=steps))


def test_a_call_in_a_split_turn_fails(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(accepted, lambda c, k, t: t.split is not None)
    made = next(c for c in conversation.turns[k + 1].calls if c.plan == turn.split.call)
    failed = _failed(_with_turn(conversation, k, steps=[[made]]))
    assert {"split_turns_empty", "calls_match_plan"} <= failed


def test_a_split_turn_that_refuses_a_doable_call_fails(accepted: list[Conversation]) -> None:
    """A split turn's plan holds the calls it can make; leaving one out refuses what was doable."""
    conversation, k, turn = _find(accepted, lambda c, k, t: t.split is None and len(t.calls) >= 2)
    split = SplitDetail(kind="miss-func", call=turn.calls[-1].plan, tool_id=turn.calls[-1].tool_id)
    doable = [c for c in turn.calls if c.plan != split.call]
    refusing = _with_turn(
        conversation, k, split=split, steps=[], planned=[p for p in turn.planned if p.id != split.call]
    )
    assert doable and "calls_match_plan" in _failed(refusing)


def test_a_missing_call_fails_the_plan(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(accepted, lambda c, k, t: len(t.calls) >= 2)
    assert "calls_match_plan" in _failed(
        _with_turn(conversation, k, steps=turn.steps[:-1] or [turn.steps[0][:-1]])
    )


def test_a_withheld_value_given_too_early_fails(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(
        accepted, lambda c, k, t: t.split is not None and t.split.kind == "miss-param"
    )
    call = next(c for c in conversation.turns[k + 1].calls if c.plan == turn.split.call)
    value = call.arguments[turn.split.parameter]
    leaked = _with_turn(conversation, k, user=f"{turn.user} The {turn.split.parameter} is {value}.")
    failed = _failed(leaked)
    assert "value_supplied" in failed or "value_withheld" in failed
    invented = _with_turn(conversation, k, refused=[])
    assert "value_withheld" in _failed(invented)


def test_a_repeated_earlier_value_fails_an_insert_long_turn(accepted: list[Conversation]) -> None:
    def candidates(c: Conversation, k: int, t: Turn) -> list:
        earlier = {x.plan for u in c.turns[:k] for x in u.calls}
        said = {json.dumps(m.value) for u in c.turns[: k + 1] for m in u.mentions}
        plans = {x.plan: x for x in t.calls}
        return [
            d
            for d in c.dependencies
            if d.source in earlier
            and d.target in plans
            and isinstance(plans[d.target].arguments.get(d.input), str)
            and len(plans[d.target].arguments[d.input]) >= 3
            and json.dumps(plans[d.target].arguments[d.input]) not in said  # not the user's own value
        ]

    conversation, k, turn = _find(accepted, lambda c, k, t: bool(candidates(c, k, t)))
    plans = {x.plan: x for x in turn.calls}
    dep = candidates(conversation, k, turn)[0]
    value = plans[dep.target].arguments[dep.input]
    # as a reference to an earlier turn's result (insert-long), the value must not be repeated
    as_reference = conversation.model_copy(
        update={
            "dependencies": [
                d.model_copy(update={"origin": "insert-long"}) if d == dep else d
                for d in conversation.dependencies
            ]
        }
    )
    assert not _failed(as_reference)
    assert _failed(_with_turn(as_reference, k, user=f"{turn.user} I mean {value}.")) == {"refers_back"}


def test_an_ungrounded_number_in_the_answer_fails(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(accepted, lambda c, k, t: bool(t.calls))
    failed = _failed(_with_turn(conversation, k, assistant=f"{turn.assistant} It costs 98765.43 in total."))
    assert failed == {"answer_grounded"}


def test_an_unstated_mention_and_an_unasked_intent_fail(accepted: list[Conversation]) -> None:
    conversation, k, _ = _find(accepted, lambda c, k, t: bool(t.mentions) and t.split is None and t.calls)
    failed = _failed(_with_turn(conversation, k, user="Please help me with this."))
    assert {"mentions_stated", "intents_stated", "values_traceable"} <= failed


def test_an_empty_answer_and_an_unavailable_tool_fail(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(accepted, lambda c, k, t: bool(t.calls))
    failed = _failed(_with_turn(conversation, k, assistant=" ", unavailable=[turn.calls[0].name]))
    assert {"answer_present", "tools_available"} <= failed


# -- issue 13: a conversation a user could really have had ------------------------------------------


def _replace_call(turn: Turn, old, new) -> list:
    return [[new if c is old else c for c in step] for step in turn.steps]


def test_a_context_value_the_plan_does_not_link_fails(accepted: list[Conversation]) -> None:
    """An argument taken silently from an unrelated earlier output, and traced as such."""

    def unsaid(c: Conversation, k: int) -> list:
        """Text values of the turn before's outputs that the user never wrote (an echo would be stated)."""
        said = "\n".join(t.user for t in c.turns[: k + 1])
        return [
            (x, key, v)
            for x in c.turns[k - 1].calls
            for key, v in (x.output or {}).items()
            if isinstance(v, str) and len(v) > 3 and not value_in_text(v, said)
        ]

    conversation, k, turn = _find(
        accepted,
        lambda c, k, t: (
            k > 0
            and any(
                tr.source == "query" and isinstance(x.arguments[tr.name], str)
                for x in t.calls
                for tr in x.trace
            )
            and bool(unsaid(c, k))
        ),
    )
    earlier = unsaid(conversation, k)[0]
    call = next(x for x in turn.calls if any(tr.source == "query" for tr in x.trace))
    name = next(tr.name for tr in call.trace if tr.source == "query")
    source, field, value = earlier
    broken = call.model_copy(
        update={
            "arguments": {**call.arguments, name: value},
            "trace": [
                tr.model_copy(update={"source": "context", "call": source.plan, "field": field})
                if tr.name == name
                else tr
                for tr in call.trace
            ],
        }
    )
    failed = _failed(_with_turn(conversation, k, steps=_replace_call(turn, call, broken)))
    assert "context_planned" in failed and "values_traceable" in failed


def test_a_cross_turn_dependency_the_user_never_refers_to_fails(accepted: list[Conversation]) -> None:
    from graph_toucan.references import refers_to  # the rule under test reads the user's words

    def cross_turn(c: Conversation, k: int, t: Turn) -> bool:
        earlier = {x.plan for turn in c.turns[:k] for x in turn.calls if not x.implicit}
        return (
            t.split is None
            and (k == 0 or c.turns[k - 1].split is None)
            and any(
                d.source in earlier and d.input and d.target in {x.plan for x in t.calls}
                for d in c.dependencies
            )
        )

    conversation, k, turn = _find(accepted, cross_turn)
    assert refers_to(turn.user, {"nouns": ["x"], "fields": []}) or "refers_back" not in _failed(conversation)
    stated = " ".join(f'"{m.value}"' for m in turn.mentions)
    plain = f"Please do the next step with {stated}." if stated else "Please do the next step."
    assert "refers_back" in _failed(_with_turn(conversation, k, user=plain))


def test_an_issued_value_the_user_types_before_it_was_shown_fails(accepted: list[Conversation]) -> None:
    def issued_arg(c: Conversation, k: int, t: Turn) -> bool:
        tools = {x.name: x for x in c.tools}
        return any(
            tools[x.name].parameter_classes.get(n) == "issued" and isinstance(v, str) and len(v) > 3
            for x in t.calls
            for n, v in x.arguments.items()
        )

    conversation, _k, turn = _find(accepted, issued_arg)
    tools = {x.name: x for x in conversation.tools}
    value = next(
        v
        for x in turn.calls
        for n, v in x.arguments.items()
        if tools[x.name].parameter_classes.get(n) == "issued" and isinstance(v, str) and len(v) > 3
    )
    # the id appears in the user's words of the first turn, before any answer showed it
    failed = _failed(_with_turn(conversation, 0, user=f"{conversation.turns[0].user} My id is {value}."))
    assert "issued_unseen" in failed


def test_a_placeholder_value_fails(accepted: list[Conversation]) -> None:
    conversation, k, turn = _find(
        accepted, lambda c, k, t: any(isinstance(m.value, str) for m in t.mentions) and t.calls
    )
    mention = next(m for m in turn.mentions if isinstance(m.value, str))
    placeholder = f"{mention.parameter.replace('_', ' ')} 34"
    mentions = [m.model_copy(update={"value": placeholder}) if m is mention else m for m in turn.mentions]
    user = turn.user.replace(str(mention.value), placeholder)
    assert "values_realistic" in _failed(_with_turn(conversation, k, mentions=mentions, user=user))


def test_an_optional_value_nobody_asked_for_fails(accepted: list[Conversation]) -> None:
    def open_optional(c: Conversation, k: int, t: Turn) -> bool:
        tools = {x.name: x for x in c.tools}
        return any(
            n not in (tools[x.name].input_schema.get("required") or []) and n not in x.arguments
            for x in t.calls
            for n in tools[x.name].input_schema.get("properties") or {}
            if (tools[x.name].input_schema["properties"][n] or {}).get("type") == "string"
            and "enum" not in tools[x.name].input_schema["properties"][n]
        )

    conversation, k, turn = _find(accepted, open_optional)
    tools = {x.name: x for x in conversation.tools}
    call, name = next(
        (x, n)
        for x in turn.calls
        for n in tools[x.name].input_schema.get("properties") or {}
        if n not in (tools[x.name].input_schema.get("required") or [])
        and n not in x.arguments
        and (tools[x.name].input_schema["properties"][n] or {}).get("type") == "string"
        and "enum" not in tools[x.name].input_schema["properties"][n]
    )
    broken = call.model_copy(update={"arguments": {**call.arguments, name: "Quarterly review"}})
    assert "optional_asked" in _failed(_with_turn(conversation, k, steps=_replace_call(turn, call, broken)))


def test_a_query_that_spells_out_the_function_name_fails(accepted: list[Conversation]) -> None:
    from graph_toucan.offline_teacher import name_words

    conversation, k, turn = _find(
        accepted,
        lambda c, k, t: (
            t.split is None and any(not x.implicit and len(name_words(x.name)) >= 2 for x in t.calls)
        ),
    )
    call = next(x for x in turn.calls if not x.implicit and len(name_words(x.name)) >= 2)
    spelled = " ".join(sorted(name_words(call.name)))
    assert "no_function_names" in _failed(_with_turn(conversation, k, user=f"{turn.user} ({spelled})"))


def test_a_real_teacher_judges_an_intent_the_keyword_rule_misses(
    accepted: list[Conversation], tmp_path
) -> None:
    """ "How is it looking out there" asks for the weather without the word: the keyword rule fails
    it, a real teacher's verdict passes it (and a 'no' keeps it failed)."""
    from graph_toucan.llm import ScriptedBackend
    from graph_toucan.semantic_checks import judged
    from graph_toucan.verify import turn_problems

    conversation, k, _turn = _find(
        accepted, lambda c, k, t: t.split is None and (k == 0 or c.turns[k - 1].split is None) and t.calls
    )
    store = Store.open(tmp_path)
    vague = _with_turn(conversation, k, user="Hm, and how is it all looking, then?", mentions=[])
    turns, tools, deps = vague.turns, vague.tools, vague.dependencies
    failed = {n: p for n, p in turn_problems(turns, k, tools, deps).items() if p}
    assert "intents_stated" in failed

    async def verdict(answer: str) -> Turn:
        own = Store.open(tmp_path / str(len(answer)))  # its own call log: answers are cached by request
        llm = LLM(ScriptedBackend([answer] * 5), own)
        return await judged(llm, turns[k], failed, tools, turns[k].user)

    yes = asyncio.run(verdict('{"holds": true, "reason": "it asks for what the function gives"}'))
    assert yes.judged == {"intents_stated": "it asks for what the function gives"}
    with_yes = [*turns[:k], yes, *turns[k + 1 :]]
    assert turn_problems(with_yes, k, tools, deps)["intents_stated"] is None
    no = asyncio.run(verdict('{"holds": false, "reason": "it asks for nothing"}'))
    assert "intents_stated" not in no.judged
    # the offline teacher is the rule: it never overrules
    offline = asyncio.run(judged(LLM(OfflineBackend(), store), turns[k], failed, tools, turns[k].user))
    assert offline.judged == {}


def test_a_parallel_call_repeating_the_same_arguments_fails(accepted: list[Conversation]) -> None:
    def parallel(_c: Conversation, _k: int, turn: Turn) -> bool:
        names = [c.name for c in turn.calls]
        return len(set(names)) < len(names)

    conversation, k, turn = _find(accepted, parallel)
    names = [c.name for c in turn.calls]
    first = next(c for c in turn.calls if names.count(c.name) > 1)
    copy = next(c for c in turn.calls if c.name == first.name and c is not first)
    same = copy.model_copy(update={"arguments": dict(first.arguments)})
    broken = _with_turn(conversation, k, steps=_replace_call(turn, copy, same))
    assert "parallel_distinct" in _failed(broken)
    assert "parallel_distinct" not in _failed(conversation)
