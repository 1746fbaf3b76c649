"""Back-and-forth translation (docs/method.md section 6): a planned path becomes a verified conversation.

Per turn: the teacher writes the user's words for the turn's type (back-translation), then fills each
function's arguments with the source of every value (forward translation), the call runs in the
simulator and its output joins the context, and the teacher answers from the results. Every turn is
verified; a failed turn is regenerated with the failures as feedback up to ``max_attempts`` times,
after which the conversation is kept as rejected with its reasons.

    translator = Translator(llm, runtime, tools_by_id)
    conversation = await translator.translate(path, seed=0)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from graph_toucan.argument_sources import parameter_classes
from graph_toucan.errors import LLMOutputError
from graph_toucan.ids import content_id
from graph_toucan.llm.client import LLM
from graph_toucan.llm.task import brief
from graph_toucan.messages import conversation_tool, function_names
from graph_toucan.mock.errors import MockArgumentsError, MockError
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.records import (
    ArgumentTrace,
    Conversation,
    ConversationTool,
    PlannedCall,
    PlannedPath,
    Style,
    Tool,
    ToolCall,
    Turn,
)
from graph_toucan.references import needs_reference, reference_of
from graph_toucan.schema import inline_refs
from graph_toucan.semantic_checks import judged
from graph_toucan.streaming import gather_or_cancel
from graph_toucan.tracing import named_by_user
from graph_toucan.translate_tasks import (
    ASSISTANT_ANSWER,
    FILL_ARGUMENTS,
    QUERY_TASKS,
    FilledArguments,
    answer_inputs,
    fill_inputs,
    history,
)
from graph_toucan.verify import request_text, turn_problems, verify

# Which prompt of a turn each check concerns: its feedback goes to that prompt only, and the prompts
# not at fault are sent as before, so their answers come back from the call log.
CHECK_STEPS: dict[str, tuple[str, ...]] = {
    "tools_available": ("fill",),
    "arguments_valid": ("fill",),
    "calls_succeeded": ("fill",),
    "values_traceable": ("query", "fill"),
    "context_planned": ("fill",),
    "optional_asked": ("fill",),
    "issued_unseen": ("query", "fill"),
    "values_realistic": ("query",),
    "dependencies_realised": ("fill",),
    "calls_match_plan": ("fill",),
    "split_turns_empty": ("query", "answer"),
    "no_function_names": ("query", "answer"),
    "mentions_stated": ("query",),
    "intents_stated": ("query",),
    "implicit_unstated": ("query",),
    "refers_back": ("query",),
    "value_withheld": ("query",),
    "value_supplied": ("query",),
    "answer_present": ("answer",),
    "answer_grounded": ("answer",),
}
_TASK_STEPS = {"fill_arguments": "fill", "assistant_answer": "answer"}


def step_feedback(failed: dict[str, str]) -> dict[str, list[str]]:
    """Check -> problem, as the feedback of each prompt of the turn (``query``, ``fill``, ``answer``)."""
    routed: dict[str, list[str]] = {}
    for name, problem in failed.items():
        for step in CHECK_STEPS.get(name, ("query", "fill", "answer")):
            routed.setdefault(step, []).append(f"{name}: {problem}")
    return routed


def parse_feedback(exc: LLMOutputError) -> dict[str, list[str]]:
    """A never-validated answer's error, as feedback for the prompt whose task gave it."""
    task = str(exc).removeprefix("task ").split(":", 1)[0]
    step = _TASK_STEPS.get(task, "query" if task.startswith("query_") else None)
    message = [f"your previous answer could not be used: {exc}"]
    return {step: message} if step else {"query": message, "fill": message, "answer": message}


def for_call(feedback: list[str], name: str, names: list[str]) -> list[str]:
    """The fill feedback that concerns the call of function ``name``: what names no function of the
    turn, and what names this one."""
    others = [n for n in names if n != name and n not in name]
    return [f for f in feedback if name in f or not any(n in f for n in others)]


PERSONAS = (
    "a busy project manager",
    "a graduate student",
    "a small-business owner",
    "a retiree planning a trip",
    "a software engineer",
    "a financial analyst",
    "a high-school teacher",
    "a travel blogger",
    "a journalist on a deadline",
    "a data scientist",
)
TONES = ("casual", "formal", "terse", "chatty")
LENGTHS = ("one short sentence", "two or three sentences", "a short paragraph")


def pick_style(path_id: str, seed: int) -> Style:
    """The conversation's persona, tone and length, varied across conversations by seed."""
    rng = random.Random(f"style/{seed}/{path_id}")
    return Style(persona=rng.choice(PERSONAS), tone=rng.choice(TONES), length=rng.choice(LENGTHS))


def steps_of(calls: list[PlannedCall], dependencies: list[Any]) -> list[list[PlannedCall]]:
    """Calls grouped into steps: a call joins the current step (parallel calls) unless it needs the
    result of a call in that step."""
    needs = {(d.source, d.target) for d in dependencies}
    steps: list[list[PlannedCall]] = []
    for call in calls:
        if steps and not any((c.id, call.id) in needs for c in steps[-1]):
            steps[-1].append(call)
        else:
            steps.append([call])
    return steps


def parallel_of(calls: list[PlannedCall]) -> dict[str, str]:
    """Copy call id -> the call it repeats for other values: later explicit calls of a tool in one turn."""
    first: dict[str, str] = {}
    copies: dict[str, str] = {}
    for call in calls:
        if call.implicit:
            continue
        if call.tool_id in first:
            copies[call.id] = first[call.tool_id]
        else:
            first[call.tool_id] = call.id
    return copies


def _parameters(tool: Tool) -> list[dict[str, Any]]:
    schema = tool.input_schema
    required = set(schema.get("required") or [])
    return [
        {
            "name": name,
            "type": sub.get("type", "string") if isinstance(sub, dict) else "string",
            "description": (sub.get("description") or "") if isinstance(sub, dict) else "",
            "required": name in required,
        }
        for name, sub in (schema.get("properties") or {}).items()
    ]


@dataclass
class _State:
    """One conversation in the making."""

    path: PlannedPath
    path_id: str
    key: str
    seed: int
    style: Style
    names: dict[str, str]
    tools: list[ConversationTool]
    turns: list[Turn]
    llm_calls: int = 0

    @property
    def said(self) -> dict[tuple[str, str], Any]:
        return {(m.call, m.parameter): m.value for t in self.turns for m in t.mentions}


class Translator:
    """Translates planned paths with one teacher and one simulator runtime."""

    def __init__(
        self, llm: LLM, runtime: MockRuntime, tools: dict[str, Tool], *, max_attempts: int = 3
    ) -> None:
        self.llm = llm
        self.runtime = runtime
        self.tools = tools
        self.max_attempts = max_attempts

    async def translate(self, path: PlannedPath, *, seed: int = 0) -> Conversation:
        """The conversation of ``path``: accepted when every check passed, otherwise rejected with
        the reasons. Raises :class:`BudgetExceeded` and :class:`LLMError` (nothing is stored then, so
        a rerun continues)."""
        available = [self._tool(t.id) for t in path.available_tools]
        names = function_names(available)
        distractors = {t.id for t in path.available_tools if t.distractor}
        path_id = path.id  # a hash of the path's content: computed once
        state = _State(
            path=path,
            path_id=path_id,
            key=content_id("translation", path_id, self.llm.teacher, seed),
            seed=seed,
            style=pick_style(path_id, seed),
            names=names,
            tools=[conversation_tool(t, names[t.id], distractor=t.id in distractors) for t in available],
            turns=[],
        )
        missing = self._unmocked(path)
        if missing:
            return self._finish(
                state, [f"no accepted mock for {', '.join(missing)}; run 'graph-toucan mock build'"]
            )
        for k in range(len(path.turns)):
            reasons = await self._translate_turn(state, k)
            if reasons:
                return self._finish(state, reasons)
        return self._finish(state, [])

    def _tool(self, tool_id: str) -> Tool:
        tool = self.tools.get(tool_id)
        if tool is None:
            raise MockError(f"tool {tool_id} of the path is not in the workspace; re-import the catalog")
        return tool

    def _unmocked(self, path: PlannedPath) -> list[str]:
        missing = []
        for call in path.calls:
            try:
                self.runtime.find(call.tool_id)
            except MockError:
                missing.append(call.tool)
        return missing

    def _finish(self, state: _State, reasons: list[str]) -> Conversation:
        conversation = Conversation(
            path_id=state.path_id,
            sampler=state.path.sampler,
            seed=state.seed,
            teacher=self.llm.teacher,
            style=state.style,
            status="rejected" if reasons else "accepted",
            tools=state.tools,
            turns=state.turns,
            turn_types=[t.type for t in state.path.turns],
            dependencies=state.path.dependencies,
            reasons=reasons,
            llm_calls=state.llm_calls,
        )
        checks = verify(conversation) if state.turns else []
        failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
        status = "accepted" if not reasons and not failed else "rejected"
        update = {"checks": checks, "status": status, "reasons": reasons or failed}
        return conversation.model_copy(update={**update, "mock_state": self.runtime.state(state.key)})

    async def _translate_turn(self, state: _State, k: int) -> list[str]:
        """Translate turn ``k`` (retrying with feedback); returns the reasons when it never passed."""
        simulated = self.runtime.conversations.get(state.key)
        feedback: dict[str, list[str]] = {}
        retried_for: list[str] = []
        for attempt in range(1, self.max_attempts + 1):
            point = simulated.checkpoint()
            try:
                turn = await self._attempt(state, k, feedback)
            except LLMOutputError as exc:
                feedback = parse_feedback(exc)
                retried_for.append("parse")
                if attempt == self.max_attempts:
                    return [f"turn {k + 1}: the teacher's answers never validated: {exc}"]
                continue
            turn = turn.model_copy(update={"attempts": attempt, "retried_for": list(retried_for)})
            problems = turn_problems([*state.turns, turn], k, state.tools, state.path.dependencies)
            failed = {name: p for name, p in problems.items() if p is not None}
            if "intents_stated" in failed:  # a keyword rule: a real teacher judges it by meaning
                request = request_text([*state.turns, turn], k)
                turn = await judged(self.llm, turn, failed, state.tools, request)
                problems = turn_problems([*state.turns, turn], k, state.tools, state.path.dependencies)
                failed = {name: p for name, p in problems.items() if p is not None}
            if not failed:
                state.turns.append(turn)
                return []
            simulated.rollback(point)
            feedback = step_feedback(failed)
            retried_for.extend(failed)
            if attempt == self.max_attempts:
                state.turns.append(turn)  # kept for analysis in the rejected conversation
                return [f"turn {k + 1}: {name}: {problem}" for name, problem in failed.items()]
        return [f"turn {k + 1}: not translated"]

    async def _attempt(self, state: _State, k: int, feedback: dict[str, list[str]]) -> Turn:
        path = state.path
        planned = path.turns[k]
        split = planned.split
        if split is not None:
            functions = [c for c in path.turns[k + 1].calls if c.id == split.call]
        else:
            functions = planned.calls
        query = await self._run(
            state,
            QUERY_TASKS[planned.type],
            self._query_inputs(state, k, functions, feedback.get("query", [])),
        )
        turn = Turn(
            type=planned.type,
            user=query.query,
            mentions=query.mentions,
            planned=planned.calls,
            split=split,
            unavailable=[state.names[t] for t in planned.withheld if t in state.names],
        )
        if split is not None:
            refused: list[str] = []
            if split.kind == "miss-param":
                filled = await self._fill(
                    state, [*state.turns, turn], functions[0], [], feedback.get("fill", [])
                )
                refused = filled.missing
            turn = turn.model_copy(update={"refused": refused})
        else:
            turn = await self._execute(state, turn, feedback.get("fill", []))
        answer = await self._run(
            state, ASSISTANT_ANSWER, self._answer_inputs(state, turn, feedback.get("answer", []))
        )
        return turn.model_copy(update={"assistant": answer.content})

    async def _run(self, state: _State, task: Any, inputs: dict[str, Any]) -> Any:
        state.llm_calls += 1
        return await self.llm.run(task, inputs)

    # -- back-translation ----------------------------------------------------------------------------
    def _query_inputs(
        self, state: _State, k: int, functions: list[PlannedCall], feedback: list[str]
    ) -> dict[str, Any]:
        path = state.path
        planned = path.turns[k]
        previous = path.turns[k - 1].split if k > 0 else None
        ask_for = self._ask_for(state, k, functions)
        references = [
            reference_of(d, path, state.names, self._tool(self._call(path, d.source).tool_id))
            for d in path.dependencies
            if needs_reference(d, path) and d.target in {c.id for c in functions}
        ]
        last_round = state.turns[-1].calls if state.turns else []
        copies = parallel_of(planned.calls)
        return {
            "turn": k + 1,
            "turns_total": len(path.turns),
            "turn_type": planned.type,
            "new_task": "new-task" in planned.operations,
            "style": state.style.model_dump(),
            "history": history(state.turns),
            "last_round": [
                {"call": c.plan, "function": c.name, "arguments": c.arguments, "output": c.output}
                for c in last_round
            ],
            "functions": [
                {
                    "call": c.id,
                    "name": state.names[c.tool_id],
                    "description": brief(self._tool(c.tool_id).description, 1500),
                    "parameters": _parameters(self._tool(c.tool_id)),
                    "implicit": c.implicit,
                    "parallel_of": copies.get(c.id),
                }
                for c in functions
            ],
            "ask_for": ask_for,
            "withhold": (
                {"call": planned.split.call, "parameter": planned.split.parameter}
                if planned.split and planned.split.kind == "miss-param"
                else None
            ),
            "missing_function": (
                {"call": planned.split.call, "name": state.names[planned.split.tool_id]}
                if planned.split and planned.split.kind == "miss-func"
                else None
            ),
            "references": references,
            "follows_split": (
                {
                    "kind": previous.kind,
                    "call": previous.call,
                    "name": state.names[previous.tool_id],
                    "parameter": previous.parameter,
                }
                if previous
                else None
            ),
            "dependencies": [
                {
                    "source": d.source,
                    "source_function": state.names[self._call(path, d.source).tool_id],
                    "output": d.output,
                    "target": d.target,
                    "target_function": state.names[self._call(path, d.target).tool_id],
                    "input": d.input,
                    "type": d.type,
                }
                for d in path.dependencies
                if d.target in {c.id for c in functions}
            ],
            "available_functions": [t.name for t in state.tools if t.tool_id not in planned.withheld],
            "feedback": feedback,
            "seed": f"{state.key}/{k}",
        }

    def _ask_for(self, state: _State, k: int, functions: list[PlannedCall]) -> list[dict[str, Any]]:
        """The parameters the user must state in turn ``k``: required ones that no dependency fills,
        not stated before and not withheld (a miss-param turn), plus now and then an optional one
        with an enum, for variety."""
        planned = state.path.turns[k]
        said = state.said
        copies = parallel_of(state.path.turns[k + 1].calls if planned.split else planned.calls)
        filled_by = {(d.target, d.input) for d in state.path.dependencies if d.input}
        withheld = (planned.split.call, planned.split.parameter) if planned.split else None
        rng = random.Random(f"optional/{state.key}/{k}")
        ask_for = []
        for call in functions:
            schema = self._tool(call.tool_id).input_schema
            properties = schema.get("properties") or {}
            required = list(schema.get("required") or [])
            optional = [
                n
                for n, s in properties.items()
                if n not in required and isinstance(s, dict) and s.get("enum") and rng.random() < 0.2
            ][:1]
            classes = parameter_classes(self._tool(call.tool_id))
            for name in [*required, *optional]:
                if (call.id, name) in filled_by or (call.id, name) in said or (call.id, name) == withheld:
                    continue
                if classes.get(name) == "issued":
                    continue  # never the user's to state: the plan gives it an earlier output
                sub = properties.get(name) if isinstance(properties.get(name), dict) else {}
                sub = inline_refs(sub, schema)  # readable alone: what a $ref names, in place
                ask_for.append(
                    {
                        "call": call.id,
                        "parameter": name,
                        "schema": sub,
                        "description": sub.get("description", ""),
                        "required": name in required,
                        "parallel_of": copies.get(call.id),
                    }
                )
        return ask_for

    @staticmethod
    def _call(path: PlannedPath, call_id: str) -> PlannedCall:
        return next(c for c in path.calls if c.id == call_id)

    # -- forward translation ---------------------------------------------------------------------------
    async def _fill(
        self,
        state: _State,
        turns: list[Turn],
        call: PlannedCall,
        context: list[ToolCall],
        feedback: list[str],
    ) -> FilledArguments:
        tool = self._tool(call.tool_id)
        inputs = fill_inputs(
            function={
                "name": state.names[call.tool_id],
                "description": brief(tool.description, 1500),
                "input_schema": tool.input_schema,
            },
            call=call.id,
            user_messages=[t.user for t in turns],
            context=context,
            dependencies=state.path.dependencies,
            mentions=[m for t in turns for m in t.mentions],
            feedback=feedback,
        )
        return await self._run(state, FILL_ARGUMENTS, inputs)

    async def _execute(self, state: _State, turn: Turn, feedback: list[str]) -> Turn:
        """Fill and run the turn's calls step by step; stops at the first call that cannot be made.

        The calls of one step need nothing from each other, so their arguments are asked for at once
        (one round trip to the teacher, not one per call); they then run in plan order, as the
        mocks' state needs. A fill whose call comes after one that could not be made goes unused."""
        turns = [*state.turns, turn]
        context = [c for t in state.turns for c in t.calls]
        names = [state.names[c.tool_id] for c in turn.planned]
        steps: list[list[ToolCall]] = []
        for planned_step in steps_of(turn.planned, state.path.dependencies):
            fills = await gather_or_cancel(
                *(
                    self._fill(
                        state, turns, call, context, for_call(feedback, state.names[call.tool_id], names)
                    )
                    for call in planned_step
                )
            )
            step: list[ToolCall] = []
            for call, filled in zip(planned_step, fills, strict=True):
                made = await self._make_call(state, turns, call, filled)
                step.append(made)
                if made.error is not None:
                    steps.append(step)
                    return turn.model_copy(update={"steps": steps})
            context.extend(step)
            steps.append(step)
        return turn.model_copy(update={"steps": steps})

    async def _make_call(
        self, state: _State, turns: list[Turn], call: PlannedCall, filled: FilledArguments
    ) -> ToolCall:
        made = ToolCall(
            id=f"call_{content_id(state.key, call.id, length=12)}",
            plan=call.id,
            name=state.names[call.tool_id],
            tool_id=call.tool_id,
            arguments={a.name: a.value for a in filled.arguments},
            trace=[
                ArgumentTrace(name=a.name, source=a.source, call=a.call, field=a.field)
                for a in filled.arguments
            ],
            implicit=call.implicit,
        )
        if filled.missing:
            return made.model_copy(
                update={
                    "error": f"required parameter(s) {', '.join(filled.missing)} found neither in the "
                    "user's words nor in earlier results"
                }
            )
        said = "\n".join(t.user for t in turns)
        self.runtime.acknowledge(state.key, named_by_user(made.arguments, said))
        try:
            output = await self.runtime.call(call.tool_id, made.arguments, conversation=state.key)
        except MockArgumentsError as exc:
            return made.model_copy(update={"error": str(exc)})
        except MockError as exc:
            return made.model_copy(update={"error": f"the simulated tool failed: {exc}"})
        return made.model_copy(update={"output": output})

    def _answer_inputs(self, state: _State, turn: Turn, feedback: list[str]) -> dict[str, Any]:
        function = None
        if turn.split is not None:
            tool = self._tool(turn.split.tool_id)
            function = {
                "name": state.names[tool.id],
                "description": tool.description,
                "input_schema": tool.input_schema,
            }
        return answer_inputs(
            earlier=state.turns,
            style=state.style.model_dump(),
            user=turn.user,
            calls=turn.calls,
            feedback=feedback,
            split=turn.split,
            function=function,
        )
