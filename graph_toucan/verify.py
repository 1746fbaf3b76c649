"""Verification of translated conversations (issue 6): every rule is checked, none is hoped for.

``turn_problems`` checks one turn against what came before (translation retries a failed turn with
these messages as feedback); ``verify`` runs it over every turn and records one :class:`Check` per
rule with the turns where it failed. Only the rules that apply to a conversation are recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import Any

from graph_toucan.fields import NOUN_SYNONYMS, name_tokens, tool_object, words
from graph_toucan.mock.runtime import schema_problem, schema_validator
from graph_toucan.offline_teacher import phrase, spells_out
from graph_toucan.records import Check, Conversation, ConversationTool, PathDependency, ToolCall, Turn
from graph_toucan.references import field_words, refers_to, result_nouns
from graph_toucan.tracing import (
    in_outputs,
    is_default,
    leaves,
    numbers_in,
    output_values,
    same_value,
    value_in_text,
)
from graph_toucan.user_values import is_placeholder

CHECKS = (
    "tools_available",
    "arguments_valid",
    "calls_succeeded",
    "values_traceable",
    "context_planned",
    "optional_asked",
    "issued_unseen",
    "values_realistic",
    "dependencies_realised",
    "calls_match_plan",
    "parallel_distinct",
    "split_turns_empty",
    "no_function_names",
    "mentions_stated",
    "intents_stated",
    "implicit_unstated",
    "refers_back",
    "value_withheld",
    "value_supplied",
    "answer_present",
    "answer_grounded",
    "irrelevant_request",
)


class TurnView:
    """One turn in its conversation: what the user has said so far and the calls made before."""

    def __init__(
        self,
        turns: list[Turn],
        k: int,
        tools: list[ConversationTool],
        dependencies: list[PathDependency],
    ) -> None:
        self.turns, self.k, self.turn = turns, k, turns[k]
        self.tools = {t.name: t for t in tools}
        self.dependencies = dependencies
        self.said = "\n".join(t.user for t in turns[: k + 1])
        self.by_plan = {c.plan: c for t in turns[: k + 1] for c in t.calls}
        self.earlier_calls = [c for t in turns[:k] for c in t.calls]
        self.planned_calls = {c.id: c for t in turns for c in t.planned}
        self.planned_inputs = {(d.target, d.input): d for d in dependencies if d.input is not None}
        follows_split = k > 0 and turns[k - 1].split is not None
        # after an empty turn the request stands from before: the user only supplies what was missing
        self.request = f"{turns[k - 1].user}\n{self.turn.user}" if follows_split else self.turn.user

    @cached_property
    def references(self) -> list[tuple[PathDependency, dict[str, Any]]]:
        """The dependencies into this turn's calls whose source the user asked for, with what the
        user calls that source's result."""
        by_name = {t.tool_id: t for t in self.tools.values()}
        found = []
        for dep in self.dependencies:
            target, source = self.by_plan.get(dep.target), self.planned_calls.get(dep.source)
            if dep.input is None or dep.output is None or source is None or source.implicit:
                continue
            if target is None or target not in self.turn.calls:
                continue
            tool = by_name.get(source.tool_id)
            name = tool.tool.rsplit("/", 1)[-1] if tool else source.tool
            found.append((dep, {"nouns": result_nouns(name, dep.output), "fields": field_words(dep.output)}))
        return found

    def classes(self, call: ToolCall) -> dict[str, str]:
        tool = self.tools.get(call.name)
        return dict(tool.parameter_classes) if tool else {}

    def outputs_before(self, call: ToolCall) -> list[Any]:
        """Outputs of the calls made before ``call``: earlier turns and earlier steps of this turn."""
        found = [c.output for c in self.earlier_calls if c.error is None]
        for step in self.turn.steps:
            if call in step:
                break
            found.extend(c.output for c in step if c.error is None)
        return found


Rule = Callable[[TurnView], str | None]


def _tools_available(v: TurnView) -> str | None:
    for call in v.turn.calls:
        if call.name not in v.tools:
            return f"{call.name} is not an available function"
        if call.name in v.turn.unavailable:
            return f"{call.name} is not available in this turn"
    return None


def _arguments_valid(v: TurnView) -> str | None:
    for call in v.turn.calls:
        tool = v.tools.get(call.name)
        if tool is None:
            continue
        problem = schema_problem(schema_validator(tool.input_schema), call.arguments)
        if problem is not None:
            return f"{call.name}: {problem}"
    return None


def _calls_succeeded(v: TurnView) -> str | None:
    failed = [f"{c.name}: {c.error}" for c in v.turn.calls if c.error is not None]
    return "; ".join(failed) or None


def _traceable(value: Any, name: str, said: str, outputs: list[Any]) -> bool:
    if isinstance(value, bool):
        return phrase(name) in said.lower() or in_outputs(value, outputs)
    if value is None:
        return True
    return value_in_text(value, said) or in_outputs(value, outputs)


def _values_traceable(v: TurnView) -> str | None:
    for call in v.turn.calls:
        tool = v.tools.get(call.name)
        properties = (tool.input_schema.get("properties") or {}) if tool else {}
        for name, value in call.arguments.items():
            schema = properties.get(name) if isinstance(properties.get(name), dict) else {}
            if is_default(value, schema) or (call.plan, name) in v.planned_inputs:
                continue  # a planned dependency is checked by dependencies_realised
            for leaf in leaves(value):
                if not _traceable(leaf, name, v.said, []):
                    return (
                        f"{call.name}.{name} = {leaf!r} is not in the user's words so far and no planned "
                        "dependency gives it; the user must state it"
                    )
    return None


def _context_planned(v: TurnView) -> str | None:
    for call in v.turn.calls:
        for trace in call.trace:
            if trace.source != "context":
                continue
            dep = v.planned_inputs.get((call.plan, trace.name))
            if dep is None or dep.source != trace.call:
                return (
                    f"{call.name}.{trace.name} is taken from {trace.call}'s result, which the plan does not "
                    "link to it; use the value the user stated, or report it missing"
                )
    return None


def _optional_asked(v: TurnView) -> str | None:
    for call in v.turn.calls:
        tool = v.tools.get(call.name)
        if tool is None:
            continue
        required = set(tool.input_schema.get("required") or [])
        properties = tool.input_schema.get("properties") or {}
        for name, value in call.arguments.items():
            schema = properties.get(name) if isinstance(properties.get(name), dict) else {}
            if name in required or (call.plan, name) in v.planned_inputs or is_default(value, schema):
                continue
            if not all(_traceable(leaf, name, v.said, []) for leaf in leaves(value)):
                return f"{call.name}.{name} is optional and nobody asked for it; leave it out"
    return None


def _issued_unseen(v: TurnView) -> str | None:
    for m in v.turn.mentions:
        call = next((c for c in v.turn.planned if c.id == m.call), None)
        tool = next((t for t in v.tools.values() if call and t.tool_id == call.tool_id), None)
        if tool is not None and tool.parameter_classes.get(m.parameter) == "issued":
            return (
                f"the user states {m.parameter}, an id only a tool's result can give; the plan must supply it"
            )
    for call in v.turn.calls:
        classes = v.classes(call)
        for name, value in call.arguments.items():
            if classes.get(name) != "issued":
                continue
            for leaf in leaves(value):
                said = next((j for j in range(v.k + 1) if value_in_text(leaf, v.turns[j].user)), None)
                if not _distinctive(leaf) or said is None:
                    continue
                if not any(value_in_text(leaf, t.assistant) for t in v.turns[:said]):
                    return (
                        f"the user types {name} = {leaf!r} in turn {said + 1}, before any answer showed "
                        "it; an id comes from a tool's result, not from the user"
                    )
    return None


def _values_realistic(v: TurnView) -> str | None:
    for m in v.turn.mentions:
        for leaf in leaves(m.value):
            if is_placeholder(leaf, m.parameter):
                return f"{m.parameter} = {leaf!r} is a placeholder; state a realistic value"
    return None


def _dependencies_realised(v: TurnView) -> str | None:
    for dep in v.dependencies:
        target = v.by_plan.get(dep.target)
        if target is None or target not in v.turn.calls:
            continue
        source = v.by_plan.get(dep.source)
        if source is None:
            return f"{dep.target} depends on {dep.source}, which was not called before it"
        if dep.type == "prerequisite" or dep.input is None or dep.output is None:
            continue
        given = target.arguments.get(dep.input)
        produced = output_values(source.output, dep.output)
        produced += [item for p in produced if isinstance(p, list) for item in p]  # one item of a list
        candidates = given if isinstance(given, list) else [given]
        if given is None or not any(same_value(g, p) for g in candidates for p in produced):
            return (
                f"{target.name}.{dep.input} must be the value of {dep.output} from {source.name} "
                f"(one of {produced[:3]!r}), got {given!r}"
            )
    return None


def _calls_match_plan(v: TurnView) -> str | None:
    made = [(c.plan, c.tool_id) for c in v.turn.calls]
    planned = [(c.id, c.tool_id) for c in v.turn.planned]
    if made != planned:
        return f"the turn made {[p for p, _ in made]} but the plan has {[p for p, _ in planned]}"
    return None


def _parallel_distinct(v: TurnView) -> str | None:
    seen: dict[str, list[dict[str, Any]]] = {}
    for call in v.turn.calls:
        if any(same_value(call.arguments, earlier) for earlier in seen.get(call.name, [])):
            return (
                f"{call.name} is called twice with the same arguments {call.arguments!r}; a repeated call "
                "must be for other values the user states"
            )
        seen.setdefault(call.name, []).append(call.arguments)
    return None


def _split_turns_empty(v: TurnView) -> str | None:
    split = v.turn.split
    if split is not None and any(c.plan == split.call or c.tool_id == split.tool_id for c in v.turn.calls):
        return (
            "a split turn must not make the call it lacks a function or value for: the assistant asks "
            "or explains instead (and makes only the calls it can)"
        )
    return None


_IDENTIFIER = re.compile(r"[_\-0-9]|[a-z][A-Z]")


def _function_names(tools: dict[str, ConversationTool]) -> list[str]:
    """Names a user would not say: identifiers with ``_``, ``-``, digits or inner capitals."""
    return [n for n in tools if _IDENTIFIER.search(n)]


@lru_cache(maxsize=8192)
def _name_pattern(name: str) -> re.Pattern[str]:
    """The function name as a whole word (compiled once: ``re``'s own cache holds 512 patterns, far
    fewer than a large catalog's names, so it compiled each one again on every turn)."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", re.IGNORECASE)


def _no_function_names(v: TurnView) -> str | None:
    user = v.turn.user
    folded = user.lower() if user.isascii() else None  # re's IGNORECASE folds more than lower() beyond ASCII
    for name in _function_names(v.tools):
        if folded is not None and name.isascii() and name.lower() not in folded:
            continue  # not even a substring: no need to compile the whole-word pattern
        if _name_pattern(name).search(user):
            return f"the user's words name the function {name}; describe the need instead"
    by_tool = {t.tool_id: t.name for t in v.tools.values()}
    asked = [c.tool_id for c in v.turn.planned if not c.implicit]
    if v.turn.split is not None:
        asked.append(v.turn.split.tool_id)
    for tool_id in asked:
        name = by_tool.get(tool_id)
        if name and spells_out(name, v.turn.user):
            return f"the user's words spell out the function name {name} word for word; say it the way a person would"
    return None


def _stated(value: Any, parameter: str, text: str) -> bool:
    if isinstance(value, bool):
        return phrase(parameter) in text.lower()
    if isinstance(value, list | dict):
        return all(_stated(leaf, parameter, text) for leaf in leaves(value))
    return value is None or value_in_text(value, text)


def _mentions_stated(v: TurnView) -> str | None:
    for m in v.turn.mentions:
        if not _stated(m.value, m.parameter, v.turn.user):
            return (
                f"the query does not state {m.parameter} = {m.value!r} as written; write the value verbatim"
            )
    return None


def _intent_words(tool: ConversationTool) -> set[str]:
    return set(tool_object(tool.tool.rsplit("/", 1)[-1], tool.description))


def _mentions_intent(tool: ConversationTool, text: str) -> bool:
    wanted = _intent_words(tool)
    if not wanted:
        return True
    have = set(name_tokens(text))
    said = {w for w in wanted if set(name_tokens(NOUN_SYNONYMS.get(w, w))) <= have}  # "picture" for image
    return bool(wanted & have or said) or any(w[:5] == h[:5] for w in wanted if len(w) >= 5 for h in have)


def _intents_stated(v: TurnView) -> str | None:
    by_tool = {t.tool_id: t for t in v.tools.values()}
    previous = v.turns[v.k - 1].split if v.k > 0 else None
    wanted = [c.tool_id for c in v.turn.planned if not c.implicit]
    if v.turn.split is not None:
        wanted = [v.turn.split.tool_id]  # an empty turn asks for the call it cannot get yet
    # after an empty turn the user may only supply what was missing: the request stands from before
    text = f"{v.turns[v.k - 1].user}\n{v.turn.user}" if previous is not None else v.turn.user
    for tool_id in wanted:
        tool = by_tool.get(tool_id)
        if tool is not None and not _mentions_intent(tool, text):
            return (
                f"the query does not ask for what {tool.name} does ({', '.join(sorted(_intent_words(tool)))})"
            )
    return None


def _implicit_unstated(v: TurnView) -> str | None:
    by_tool = {t.tool_id: t for t in v.tools.values()}
    for planned in v.turn.planned:
        tool = by_tool.get(planned.tool_id)
        if not planned.implicit or tool is None:
            continue
        spoken = " ".join(words(tool.name))
        if len(spoken.split()) > 1 and spoken in v.turn.user.lower():
            return f"the helper step ({spoken}) must stay implicit: state only the final goal"
    filled = {(d.target, d.input) for d in v.dependencies if d.origin == "insert-short"}
    for m in v.turn.mentions:
        if (m.call, m.parameter) in filled:
            return f"{m.parameter} comes from a helper call's result; the user must not state it"
    return None


def _refers_back(v: TurnView) -> str | None:
    stated = [leaf for t in v.turns[: v.k + 1] for m in t.mentions for leaf in leaves(m.value)]
    for dep, reference in v.references:
        target = v.by_plan[dep.target]
        for leaf in leaves(target.arguments.get(dep.input)):  # type: ignore[arg-type]
            if any(same_value(leaf, s) for s in stated):
                continue  # the user's own value, echoed by the earlier result: not a leak
            if _distinctive(leaf) and value_in_text(leaf, v.turn.user):
                return (
                    f"the query repeats {leaf!r} from an earlier result; refer to it "
                    "(e.g. 'that one') instead of repeating it"
                )
        if not refers_to(v.request, reference):
            return (
                f"{target.name}.{dep.input} comes from the {reference['nouns'][0]} an earlier call gave, but "
                f"the user's words never refer to it; say which (e.g. 'that {reference['nouns'][0]}')"
            )
    return None


def _distinctive(value: Any) -> bool:
    """A value whose appearance in text is unlikely to be a coincidence."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return abs(value) >= 100 or (isinstance(value, float) and not value.is_integer())
    return isinstance(value, str) and len(value.strip()) >= 3


def _value_withheld(v: TurnView) -> str | None:
    split = v.turn.split
    if split is None or split.kind != "miss-param" or split.parameter is None:
        return None
    if any(m.call == split.call and m.parameter == split.parameter for m in v.turn.mentions):
        return f"the user must leave out {split.parameter} in this turn"
    if split.parameter not in v.turn.refused:
        return f"the assistant did not report {split.parameter} as missing; it must ask, not guess"
    asked = set(name_tokens(v.turn.assistant))
    if v.turn.assistant.strip() and not any(w in asked for w in name_tokens(split.parameter) if len(w) > 2):
        return f"the answer must ask the user for the {phrase(split.parameter)}"
    return None


def _value_supplied(v: TurnView) -> str | None:
    previous = v.turns[v.k - 1].split if v.k > 0 else None
    if previous is None or previous.kind != "miss-param" or previous.parameter is None:
        return None
    call = v.by_plan.get(previous.call)
    value = call.arguments.get(previous.parameter) if call else None
    if value is None:
        return f"{previous.parameter} was never given"
    if not _stated(value, previous.parameter, v.turn.user):
        return f"this turn must give the missing {previous.parameter}"
    if _distinctive(value) and _stated(value, previous.parameter, v.turns[v.k - 1].user):
        return f"{previous.parameter} = {value!r} was already in the previous turn, which had to leave it out"
    return None


def _answer_present(v: TurnView) -> str | None:
    return None if v.turn.assistant.strip() else "the assistant's answer is empty"


def _answer_grounded(v: TurnView) -> str | None:
    known = numbers_in(v.said)
    for call in v.turn.calls:
        for leaf in leaves(call.output):
            if isinstance(leaf, int | float) and not isinstance(leaf, bool):
                known.add(float(leaf))
            elif isinstance(leaf, str):
                known |= numbers_in(leaf)
    for number in numbers_in(v.turn.assistant):
        if number.is_integer() and 0 <= number <= 10:
            continue  # counts and ordinals
        if not any(abs(number - k) <= 0.5 * 10 ** -_decimals(number) for k in known):
            return f"the answer states {number:g}, which no tool result or user message contains"
    return None


def _irrelevant(turn: Turn, tools: list[ConversationTool]) -> str | None:
    """An irrelevance sample: a request for what a catalog tool that is not offered does (so it needs a
    tool, just not one of these), declined without a call."""
    if turn.calls:
        return "an irrelevant request must be declined without a call"
    if turn.wanted is None or turn.wanted in {t.tool for t in tools}:
        return "an irrelevant request must ask for what a tool that is not offered does"
    if "irrelevant_request" in turn.judged:
        return None
    wanted = tool_object(turn.wanted.rsplit("/", 1)[-1])
    have = set(name_tokens(turn.user))
    if wanted and not wanted & have:
        return f"the request does not ask for what {turn.wanted} does ({', '.join(sorted(wanted))})"
    served = [t.name for t in tools if _intent_words(t) and _mentions_intent(t, turn.user)]
    if served:
        return f"the request is about what {served[0]} does; ask for something no tool serves"
    return None


def _decimals(number: float) -> int:
    text = f"{number:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


RULES: dict[str, Rule] = {
    "tools_available": _tools_available,
    "arguments_valid": _arguments_valid,
    "calls_succeeded": _calls_succeeded,
    "values_traceable": _values_traceable,
    "context_planned": _context_planned,
    "optional_asked": _optional_asked,
    "issued_unseen": _issued_unseen,
    "values_realistic": _values_realistic,
    "dependencies_realised": _dependencies_realised,
    "calls_match_plan": _calls_match_plan,
    "parallel_distinct": _parallel_distinct,
    "split_turns_empty": _split_turns_empty,
    "no_function_names": _no_function_names,
    "mentions_stated": _mentions_stated,
    "intents_stated": _intents_stated,
    "implicit_unstated": _implicit_unstated,
    "refers_back": _refers_back,
    "value_withheld": _value_withheld,
    "value_supplied": _value_supplied,
    "answer_present": _answer_present,
    "answer_grounded": _answer_grounded,
}

_APPLIES: dict[str, Callable[[TurnView], bool]] = {
    "tools_available": lambda v: bool(v.turn.calls),
    "arguments_valid": lambda v: bool(v.turn.calls),
    "calls_succeeded": lambda v: bool(v.turn.calls),
    "values_traceable": lambda v: bool(v.turn.calls),
    "context_planned": lambda v: bool(v.turn.calls),
    "optional_asked": lambda v: bool(v.turn.calls),
    "issued_unseen": lambda v: bool(v.turn.calls or v.turn.mentions),
    "values_realistic": lambda v: bool(v.turn.mentions),
    "dependencies_realised": lambda v: any(v.by_plan.get(d.target) in v.turn.calls for d in v.dependencies),
    "parallel_distinct": lambda v: len({c.name for c in v.turn.calls}) < len(v.turn.calls),
    "split_turns_empty": lambda v: v.turn.split is not None,
    "implicit_unstated": lambda v: any(c.implicit for c in v.turn.planned),
    "refers_back": lambda v: bool(v.references),
    "value_withheld": lambda v: v.turn.split is not None and v.turn.split.kind == "miss-param",
    "value_supplied": lambda v: (
        v.k > 0 and v.turns[v.k - 1].split is not None and v.turns[v.k - 1].split.kind == "miss-param"
    ),  # type: ignore[union-attr]
    "answer_grounded": lambda v: v.turn.split is None,
}


def turn_problems(
    turns: list[Turn],
    k: int,
    tools: list[ConversationTool],
    dependencies: list[PathDependency],
) -> dict[str, str | None]:
    """Rule -> failure message (None when it passed) for turn ``k``, over the rules that apply to it."""
    view = TurnView(turns, k, tools, dependencies)
    judged = view.turn.judged
    return {
        name: None if name in judged else rule(view)
        for name, rule in RULES.items()
        if _APPLIES.get(name, lambda _v: True)(view)
    }


def request_text(turns: list[Turn], k: int) -> str:
    """What the user asks for in turn ``k``: its message, with the one before after an empty turn."""
    return TurnView(turns, k, [], []).request


def judge_by_rule(inputs: dict[str, Any]) -> bool:
    """The keyword form of ``request_judge`` (semantic_checks.py): what the offline teacher answers."""
    tool = lambda f: ConversationTool(  # noqa: E731
        name=f["name"], tool_id=f["name"], tool=f["name"], description=f["description"], input_schema={}
    )
    if inputs["question"] == "intent":
        return _mentions_intent(tool(inputs["function"]), inputs["user"])
    return not any(
        _intent_words(t) and _mentions_intent(t, inputs["user"]) for t in map(tool, inputs["functions"])
    )


def verify(conversation: Conversation) -> list[Check]:
    """Every rule over every turn: one check per rule that applied, with the turns where it failed."""
    results: dict[str, list[tuple[int, str | None]]] = {}
    for k in range(len(conversation.turns)):
        problems = turn_problems(conversation.turns, k, conversation.tools, conversation.dependencies)
        for name, problem in problems.items():
            results.setdefault(name, []).append((k + 1, problem))
    if conversation.kind == "irrelevance":
        results["irrelevant_request"] = [
            (k + 1, _irrelevant(turn, conversation.tools)) for k, turn in enumerate(conversation.turns)
        ]
    checks = []
    for name in CHECKS:
        if name not in results:
            continue
        failed = [(k, p) for k, p in results[name] if p is not None]
        checks.append(
            Check(
                name=name,
                passed=not failed,
                detail="; ".join(f"turn {k}: {p}" for k, p in failed[:3]),
                turns=[k for k, _ in failed],
            )
        )
    return checks
