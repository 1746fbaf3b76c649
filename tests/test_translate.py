"""Back-and-forth translation end to end on the bundled example catalog with the offline teacher:
accepted conversations pass every check, each turn type looks as docs/method.md section 6 says, verification catches
broken conversations, and distillation makes the three kinds of preference pairs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from graph_toucan.llm import LLM, OfflineBackend
from graph_toucan.messages import conversation_messages, function_names
from graph_toucan.mock import DeterministicSimulator, MockRuntime, SandboxPool
from graph_toucan.offline_teacher import phrase
from graph_toucan.pipeline import PipelineConfig, run_pipeline
from graph_toucan.records import Conversation, Turn
from graph_toucan.references import refers_to
from graph_toucan.sampling import load_config
from graph_toucan.store import Store
from graph_toucan.tracing import output_values, same_value, value_in_text
from graph_toucan.translate import Translator, steps_of
from graph_toucan.user_values import is_placeholder
from graph_toucan.verify import CHECKS, verify

N = 60
BUSY = {
    "operations.merge": 0.5,
    "operations.insert_short": 0.6,
    "operations.insert_long": 0.7,
    "operations.split": 0.8,
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("translate"))
    llm = LLM(OfflineBackend(), store)
    report = asyncio.run(run_pipeline(store, llm, PipelineConfig(n=N, sample=load_config(None, **BUSY))))
    assert report.accepted == N and not report.failed
    return store


@pytest.fixture(scope="module")
def accepted(workspace: Store) -> list[Conversation]:
    return list(workspace.conversations(status="accepted", kind="translation"))


def _turns(conversations: list[Conversation], kind: str) -> list[tuple[Conversation, int, Turn]]:
    return [(c, k, t) for c in conversations for k, t in enumerate(c.turns) if t.type == kind]


def test_n_accepted_and_every_check_true(workspace: Store, accepted: list[Conversation]) -> None:
    assert len(accepted) == N
    assert workspace.conversation_count(status="accepted", kind="translation") == N
    for conversation in accepted:
        assert conversation.checks and all(c.passed for c in conversation.checks), conversation.checks
        assert verify(conversation) == conversation.checks  # the stored verdict is reproducible
        assert {c.name for c in conversation.checks} <= set(CHECKS)
        assert len(conversation.turns) == len(conversation.turn_types)
        for turn in conversation.turns:
            assert [c.plan for c in turn.calls] == [c.id for c in turn.planned]
            assert turn.user.strip() and turn.assistant.strip()
    names = Counter(c.name for conversation in accepted for c in conversation.checks)
    assert (
        names["values_traceable"] > 0 and names["dependencies_realised"] > 0 and names["value_withheld"] > 0
    )


def test_every_argument_is_traced_to_the_user_or_an_earlier_output(accepted: list[Conversation]) -> None:
    for conversation in accepted:
        said = ""
        outputs: dict[str, object] = {}
        for turn in conversation.turns:
            said += "\n" + turn.user
            for call in turn.calls:
                assert {t.name for t in call.trace} == set(call.arguments)
                for trace in call.trace:
                    value = call.arguments[trace.name]
                    if trace.source == "context":
                        assert trace.call in outputs and trace.field is not None
                        produced = output_values(outputs[trace.call], trace.field)
                        given = value if isinstance(value, list) else [value]
                        assert produced and all(any(same_value(v, p) for p in produced) for v in given)
                    elif trace.source == "query" and not isinstance(value, bool | list):
                        assert value_in_text(value, said), (value, said)
                outputs[call.plan] = call.output


def test_normal_turns_ask_for_the_function_with_its_values(accepted: list[Conversation]) -> None:
    examples = _turns(accepted, "normal")
    assert examples
    for conversation, _, turn in examples:
        assert len(turn.planned) == 1 and len(turn.calls) == 1
        for mention in turn.mentions:
            assert value_in_text(mention.value, turn.user) or isinstance(mention.value, bool | list)
        for tool in conversation.tools:
            if "_" in tool.name:
                assert tool.name not in turn.user


def test_miss_func_turns_make_no_call_and_the_next_turn_calls_the_withheld_tool(
    accepted: list[Conversation],
) -> None:
    examples = [(c, k, t) for c, k, t in _turns(accepted, "empty") if t.split and t.split.kind == "miss-func"]
    assert examples
    for conversation, k, turn in examples:
        withheld = next(t for t in conversation.tools if t.tool_id == turn.split.tool_id)
        assert turn.steps == [] and withheld.name in turn.unavailable
        assert "can't" in turn.assistant or "cannot" in turn.assistant
        following = conversation.turns[k + 1]
        assert withheld.name not in following.unavailable
        assert turn.split.call in [c.plan for c in following.calls]


def test_miss_param_turns_withhold_the_value_and_the_next_turn_supplies_it(
    accepted: list[Conversation],
) -> None:
    examples = [
        (c, k, t) for c, k, t in _turns(accepted, "empty") if t.split and t.split.kind == "miss-param"
    ]
    assert examples
    for conversation, k, turn in examples:
        parameter = turn.split.parameter
        assert turn.steps == [] and parameter in turn.refused
        # anything else refused is filled from a result the conversation does not have yet
        later = {d.input for d in conversation.dependencies if d.target == turn.split.call}
        assert set(turn.refused) - {parameter} <= later
        assert phrase(parameter) in turn.assistant and "?" in turn.assistant
        assert all(m.parameter != parameter for m in turn.mentions)
        call = next(c for c in conversation.turns[k + 1].calls if c.plan == turn.split.call)
        value = call.arguments[parameter]
        assert value_in_text(value, conversation.turns[k + 1].user) or isinstance(value, bool | list)
        if isinstance(value, str) and len(value) > 3:
            assert not value_in_text(value, turn.user)


def test_merge_turns_state_every_intent(accepted: list[Conversation]) -> None:
    examples = _turns(accepted, "merge")
    assert examples
    for conversation, _, turn in examples:
        explicit = [c for c in turn.planned if not c.implicit]
        assert len(explicit) >= 2
        assert " and then " in turn.user or turn.user.count(",") >= 1
        check = next(c for c in conversation.checks if c.name == "intents_stated")
        assert check.passed


def test_insert_short_turns_keep_the_helper_implicit_and_feed_its_output(
    accepted: list[Conversation],
) -> None:
    examples = _turns(accepted, "insert-short")
    assert examples
    for _, _, turn in examples:
        helpers = [c for c in turn.calls if c.implicit]
        assert helpers
        helper_plans = {c.plan for c in helpers}
        fed = [
            t
            for c in turn.calls
            if not c.implicit
            for t in c.trace
            if t.source == "context" and t.call in helper_plans
        ]
        assert fed, "a helper's output must fill the goal's argument"
        for helper in helpers:
            assert " ".join(helper.name.split("_")) not in turn.user.lower() or "_" not in helper.name
            assert helper.name not in turn.user


@pytest.fixture(scope="module")
def long_reference_conversations(workspace: Store) -> list[Conversation]:
    """Insert-long turns are rare on the example graph (about 1 path in 40), so sample a stream that
    asks for them everywhere and translate the paths that got one."""
    from graph_toucan.sampling import population, sample_paths

    config = load_config(None, **{"operations.insert_long": 1.0, "operations.split": 0.0})
    index = population(workspace, "graph", config)
    paths = []
    for path in sample_paths("graph", index, config, seed=5):
        if any(d.origin == "insert-long" for d in path.dependencies):
            paths.append(path)
        if len(paths) == 6:
            break
    tools = {t.id: t for t in workspace.tools()}

    async def translate() -> list[Conversation]:
        async with SandboxPool(1) as pool:
            runtime = MockRuntime(pool, DeterministicSimulator(seed=0))
            runtime.add(workspace.mocks(status="accepted"))
            translator = Translator(LLM(OfflineBackend(), workspace), runtime, tools)
            return [await translator.translate(p, seed=0) for p in paths]

    return asyncio.run(translate())


def test_insert_long_turns_refer_back_without_repeating_values(
    long_reference_conversations: list[Conversation],
) -> None:
    long_refs = []
    for conversation in long_reference_conversations:
        if conversation.status != "accepted":
            continue
        for k, turn in enumerate(conversation.turns):
            earlier = {c.plan for t in conversation.turns[:k] for c in t.calls}
            for dep in conversation.dependencies:
                call = next((c for c in turn.calls if c.plan == dep.target), None)
                if dep.origin == "insert-long" and dep.source in earlier and call is not None:
                    trace = next(t for t in call.trace if t.name == dep.input)
                    assert trace.source == "context" and trace.call == dep.source
                    stated = [m.value for t in conversation.turns[: k + 1] for m in t.mentions]
                    long_refs.append((turn, call.arguments[dep.input], stated))
    assert len(long_refs) >= 3
    for turn, value, stated in long_refs:
        assert refers_to(turn.user, {"nouns": [], "fields": []}) or "that" in turn.user or "same" in turn.user
        # an earlier result is referred to, not repeated (unless it echoes a value the user stated)
        if isinstance(value, str) and len(value) >= 3 and value not in stated:
            assert not value_in_text(value, turn.user)


def _insert_mixed_paths(store: Store, limit: int) -> list:
    """Planned paths with an insert-mixed turn. The sampler never draws one on the example graph (a
    helper and the walk already fill every input of the goal call, so insert-long finds nothing left
    to fill), so make one as operations.py would: an insert-short turn whose goal takes an earlier
    turn's output is a turn that also refers back, i.e. insert-mixed."""
    from graph_toucan.sampling import population, sample_paths

    config = load_config(None, **{"operations.insert_short": 1.0, "operations.split": 0.0})
    found = []
    for path in sample_paths("graph", population(store, "graph", config), config, seed=11):
        for k, turn in enumerate(path.turns):
            earlier = {c.id for t in path.turns[:k] for c in t.calls}
            goals = {c.id for c in turn.calls if not c.implicit}
            back = [d for d in path.dependencies if d.source in earlier and d.target in goals and d.input]
            if turn.type != "insert-short" or not back:
                continue
            turns = list(path.turns)
            turns[k] = turn.model_copy(
                update={"type": "insert-mixed", "operations": ["insert-short", "insert-long"]}
            )
            dependencies = [
                d.model_copy(update={"origin": "insert-long"}) if d in back else d for d in path.dependencies
            ]
            found.append(path.model_copy(update={"turns": turns, "dependencies": dependencies}))
            break
        if len(found) == limit:
            break
    return found


def test_insert_mixed_turns_keep_helpers_implicit_and_refer_back(workspace: Store) -> None:
    paths = _insert_mixed_paths(workspace, 4)
    assert len(paths) >= 2
    tools = {t.id: t for t in workspace.tools()}

    async def translate() -> list[Conversation]:
        async with SandboxPool(1) as pool:
            runtime = MockRuntime(pool, DeterministicSimulator(seed=0))
            runtime.add(workspace.mocks(status="accepted"))
            translator = Translator(LLM(OfflineBackend(), workspace), runtime, tools)
            return [await translator.translate(p, seed=0) for p in paths]

    conversations = [c for c in asyncio.run(translate()) if c.status == "accepted"]
    assert conversations
    for conversation in conversations:
        k = conversation.turn_types.index("insert-mixed")
        turn = conversation.turns[k]
        assert any(c.implicit for c in turn.calls)
        assert " that " in turn.user or " same " in turn.user or " first " in turn.user
        checks = {c.name: c.passed for c in conversation.checks}
        assert checks["implicit_unstated"] and checks["refers_back"] and checks["dependencies_realised"]


def test_merge_insert_turns_combine_several_intents(accepted: list[Conversation]) -> None:
    examples = _turns(accepted, "merge-insert")
    assert examples
    for _, _, turn in examples:
        assert len(turn.calls) >= 2


def test_steps_group_parallel_calls_and_wait_for_dependencies(accepted: list[Conversation]) -> None:
    for conversation in accepted:
        for turn in conversation.turns:
            assert [[c.plan for c in s] for s in turn.steps] == [
                [c.id for c in s] for s in steps_of(turn.planned, conversation.dependencies)
            ]
            for step in turn.steps:
                for call in step:
                    same_step = {c.plan for c in step}
                    assert not any(t.call in same_step for t in call.trace if t.source == "context")


def test_messages_pair_every_tool_call_with_its_result(accepted: list[Conversation]) -> None:
    for conversation in accepted:
        messages = conversation_messages(conversation)
        assert messages[0].role == "user" and messages[-1].role == "assistant"
        pending: set[str] = set()
        for message in messages:
            if message.role == "assistant" and message.tool_calls:
                assert not pending
                pending = {c.id for c in message.tool_calls}
            elif message.role == "tool":
                pending.remove(message.tool_call_id)
                json.loads(message.content)
        assert not pending
        ids = [c.id for c in conversation.calls]
        assert len(ids) == len(set(ids))


def test_rejected_conversations_are_kept_with_reasons(workspace: Store) -> None:
    rejected = list(workspace.conversations(status="rejected"))
    for conversation in rejected:
        assert conversation.reasons
        assert any(not c.passed for c in conversation.checks) or conversation.reasons


def test_distillation_makes_every_kind_of_pair(workspace: Store, accepted: list[Conversation]) -> None:
    pairs = list(workspace.pairs())
    kinds = Counter(p.kind for p in pairs)
    assert {"forgets-value", "wrong-function", "hallucinated-value", "needless-call"} <= set(kinds), kinds
    by_id = {c.id: c for c in workspace.conversations(status="accepted")}
    for pair in pairs:
        conversation = by_id[pair.conversation_id]
        turn = conversation.turns[pair.turn - 1]
        said = "\n".join(m.content for m in pair.prefix if m.role == "user")
        assert pair.prefix[-1].role in ("user", "tool")
        context = json.dumps([m.model_dump(mode="json") for m in pair.prefix])
        for call in pair.rejected.tool_calls:  # a guessed value is plausible, never a placeholder
            for name, value in call.arguments.items():
                assert json.dumps(value)[1:-1] in context or not is_placeholder(value, name), (name, value)
        if pair.step > len(turn.steps):  # the turn's final text: it asks, declines or answers
            assert pair.chosen.content == turn.assistant and pair.rejected.tool_calls
            continue
        reference = turn.steps[pair.step - 1]
        assert [c.id for c in pair.chosen.tool_calls] == [c.id for c in reference]
        if pair.kind == "forgets-value":
            assert not pair.rejected.tool_calls and pair.rejected.content.endswith("?")
            # the value asked for again was stated by the user before this turn
            earlier = "\n".join(t.user for t in conversation.turns[: pair.turn - 1])
            assert any(
                value_in_text(c.arguments[t.name], earlier)
                for c in reference
                for t in c.trace
                if t.source == "query"
            )
        elif pair.kind == "wrong-function":
            wrong = {c.name for c in pair.rejected.tool_calls} - {c.name for c in reference}
            assert wrong and wrong <= {t.name for t in conversation.tools}
        else:
            changed = [
                (c.arguments, r.arguments)
                for c, r in zip(reference, pair.rejected.tool_calls, strict=True)
                if c.arguments != r.arguments
            ]
            assert len(changed) == 1
            ((good, bad),) = changed
            invented = [v for k, v in bad.items() if good.get(k) != v]
            assert invented and not any(value_in_text(v, said) for v in invented)


def test_pairs_reward_asking_declining_and_answering(workspace: Store) -> None:
    by_kind = {p.kind: p for p in workspace.pairs()}
    asks, declines, answers = by_kind["guessed-value"], by_kind["unsupported-call"], by_kind["needless-call"]
    assert "?" in asks.chosen.content and asks.rejected.tool_calls  # ask, not guess the value
    assert declines.chosen.content and declines.rejected.tool_calls  # decline, not call anyway
    assert answers.chosen.content and answers.prefix[-1].role == "tool"  # answer once results are in


def test_translation_is_deterministic(workspace: Store, accepted: list[Conversation]) -> None:
    tools = {t.id: t for t in workspace.tools()}
    path = workspace.get_path(accepted[3].path_id)
    assert path is not None

    async def again() -> Conversation:
        async with SandboxPool(1) as pool:
            runtime = MockRuntime(pool, DeterministicSimulator(seed=0))
            runtime.add(workspace.mocks(status="accepted"))
            return await Translator(LLM(OfflineBackend(), workspace), runtime, tools).translate(path, seed=0)

    assert asyncio.run(again()).model_dump_json() == accepted[3].model_dump_json()


def test_function_names_are_unique_and_valid(workspace: Store) -> None:
    names = function_names(workspace.tools())
    assert len(set(names.values())) == len(names)
    assert all(len(n) <= 64 and n.replace("_", "").replace("-", "").isalnum() for n in names.values())


def test_conversations_cli_shows_a_transcript(workspace: Store, accepted: list[Conversation]) -> None:
    from typer.testing import CliRunner

    from graph_toucan.cli import app

    runner = CliRunner()
    shown = runner.invoke(
        app, ["-w", str(Path(workspace.workspace)), "conversations", "show", accepted[0].id[:8]]
    )
    assert shown.exit_code == 0, shown.output
    assert "turn 1" in shown.output and accepted[0].turns[0].user[:20] in shown.output.replace("\n", " ")
    missing = runner.invoke(app, ["-w", str(Path(workspace.workspace)), "conversations", "show", "zzzz"])
    assert missing.exit_code != 0


def test_parallel_calls_are_asked_for_together_each_with_its_own_value(
    workspace: Store, accepted: list[Conversation]
) -> None:
    turns = [
        (c, t)
        for c in accepted
        for t in c.turns
        if len({p.tool_id for p in t.planned}) < len([p for p in t.planned if not p.implicit])
    ]
    assert turns, "the default settings make parallel calls of one tool"
    for conversation, turn in turns:
        by_tool: dict[str, list] = {}
        for call in turn.calls:
            by_tool.setdefault(call.tool_id, []).append(call)
        for calls in (c for c in by_tool.values() if len(c) > 1):
            arguments = [json.dumps(c.arguments, sort_keys=True) for c in calls]
            assert len(set(arguments)) == len(arguments), (conversation.id, arguments)
            step = next(s for s in turn.steps if calls[0] in s)
            assert all(c in step for c in calls), "parallel calls run in one step"
            for call in calls:  # every value the user states for a copy is in the user's words
                for name, value in call.arguments.items():
                    trace = next(a for a in call.trace if a.name == name)
                    if trace.source == "query" and isinstance(value, str):
                        assert value_in_text(value, turn.user), (call.name, name, value, turn.user)


def test_later_tasks_open_as_new_requests_and_some_build_on_earlier_results(workspace: Store) -> None:
    later, bridged = 0, 0
    for conversation in workspace.conversations(status="accepted", kind="translation"):
        path = workspace.get_path(conversation.path_id)
        starts = [k for k, t in enumerate(path.turns) if "new-task" in t.operations]
        for k in starts:
            later += 1
            assert 0 < k < len(path.turns)
            before = {c.id for t in path.turns[:k] for c in t.calls}
            this = {c.id for c in path.turns[k].calls} or {c.id for c in path.turns[k + 1].calls}
            bridged += any(d.source in before and d.target in this for d in path.dependencies)
            assert conversation.turns[k].user != conversation.turns[k - 1].user
        tasks = [0]
        for k in range(1, len(path.turns)):
            tasks.append(tasks[-1] + (k in starts))
        for turn in path.turns:  # a merged turn never joins two tasks
            owners = {
                tasks[j]
                for j, t in enumerate(path.turns)
                for c in t.calls
                if c.id in {x.id for x in turn.calls}
            }
            assert len(owners) <= 1
    assert later and bridged, "the default settings give conversations later tasks, some bridged"
