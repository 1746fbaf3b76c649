"""Refusal augmentation (docs/method.md section 7) over accepted conversations; every variant is a new
conversation linked to its source (``source_id``) and verified like a translation.

- ``miss-func``: ``[Q, A] -> [Q, A1, Q1, A]``: the first use of a tool is located, the tool is removed
  from the available tools up to that point, A1 makes the turn's calls that do not need it and explains
  that the rest cannot be done, Q1 makes the tool available, then the remaining calls and their answer.
- ``miss-params``: ``[Q, A] -> [Q1, A1, Q2, A]``: Q1 is Q without one required value the user stated,
  A1 asks for it, Q2 gives it, then the original answer.
- ``irrelevance``: a request for what a catalog tool that is not offered does (another server's, on
  another subject), declined without a call.

``augment`` applies a :class:`Mixture` (shares of the final accepted set; MAGNET found about 15%
irrelevance best) and is resumable: sources are taken in a seeded order and a variant already stored
is not made again.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from graph_toucan import offline_teacher
from graph_toucan.argument_sources import issued_required
from graph_toucan.errors import LLMOutputError
from graph_toucan.fields import name_tokens, tool_object
from graph_toucan.llm.client import LLM
from graph_toucan.llm.task import Task, brief
from graph_toucan.offline_teacher import phrase, spoken
from graph_toucan.records import Conversation, ConversationKind, Mention, SplitDetail, Tool, ToolCall, Turn
from graph_toucan.semantic_checks import judged
from graph_toucan.store import Store
from graph_toucan.streaming import until_accepted
from graph_toucan.tracing import leaves, value_in_text
from graph_toucan.translate_tasks import (
    ASSISTANT_ANSWER,
    FILL_ARGUMENTS,
    UserQuery,
    answer_inputs,
    fill_inputs,
    history,
)
from graph_toucan.user_values import is_placeholder, stated_value
from graph_toucan.verify import verify

RefusalKind = Literal["miss-func", "miss-params", "irrelevance"]
KINDS: tuple[RefusalKind, ...] = ("miss-func", "miss-params", "irrelevance")


class Mixture(BaseModel):
    """Shares of each refusal kind in the final accepted set (translations make up the rest)."""

    irrelevance: float = Field(0.15, ge=0, le=0.9)
    miss_func: float = Field(0.05, ge=0, le=0.9)
    miss_params: float = Field(0.05, ge=0, le=0.9)

    def share(self, kind: RefusalKind) -> float:
        return {
            "irrelevance": self.irrelevance,
            "miss-func": self.miss_func,
            "miss-params": self.miss_params,
        }[kind]

    @model_validator(mode="after")
    def _below_one(self) -> Mixture:
        if sum(self.share(k) for k in KINDS) >= 1:
            raise ValueError("the refusal shares must add up to less than 1; translations need a share too")
        return self

    def targets(self, translations: int) -> dict[RefusalKind, int]:
        """How many variants of each kind make these shares next to ``translations`` accepted ones."""
        overall = translations / (1 - sum(self.share(k) for k in KINDS))
        return {k: round(self.share(k) * overall) for k in KINDS}


# -- the teacher's tasks -------------------------------------------------------------------------------


class SupplyQuery(BaseModel):
    query: str = Field(min_length=1, max_length=2000)


class Irrelevant(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=2000)


def _rewrite_offline(inputs: dict[str, Any]) -> dict[str, Any]:
    """The query without the withheld value: its ``name "value"`` clause is dropped."""
    query, parameter, value = inputs["query"], inputs["parameter"], inputs["value"]
    for pattern in (f"{phrase(parameter)} {spoken(value)}", spoken(value), str(value)):
        if pattern in query:
            query = query.replace(pattern, "")
            break
    query = re.sub(r"\bwith\s+(for|and)\b", r"\1", re.sub(r"\s{2,}", " ", query))
    query = re.sub(r"\s+,", ",", re.sub(r"(with|,)\s*(,|\?|\.|$)", r"\2", query))
    query = re.sub(r"[\s,]+(\?|\.|!)", r"\1", query).strip()
    mentions = [m for m in inputs["mentions"] if (m["call"], m["parameter"]) != (inputs["call"], parameter)]
    return {"query": query, "mentions": mentions}


def _supply_offline(inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs["kind"] == "miss-func":
        return {"query": offline_teacher.after_split_func(inputs["style"]["tone"])}
    return {"query": f"Sorry, the {phrase(inputs['parameter'])} is {spoken(inputs['value'])}."}


def _irrelevant_offline(inputs: dict[str, Any]) -> dict[str, Any]:
    """A request for what the wanted tool does, in the user's words, declined with what the offered
    functions can do instead."""
    rng = random.Random(inputs["seed"])
    wanted = inputs["wanted"]
    request = offline_teacher.request(wanted["name"], rng)
    values = [f"{phrase(v['parameter'])} {spoken(v['value'])}" for v in wanted["stated"]]
    if values:
        request += " with " + ", ".join(values)
    query = rng.choice(["Could you {x}?", "Please {x}.", "I need you to {x}.", "Hey, can you {x} for me?"])
    capabilities = ", ".join(offline_teacher.subject(f["name"]) for f in inputs["functions"][:3])
    return {
        "query": query.format(x=request),
        "answer": f"I'm sorry, but I can't {request} with the tools I have here. I can help with "
        f"things like {capabilities}. Is there something along those lines I can do for you?",
    }


REWRITE_QUERY = Task(
    name="refusal_rewrite",
    output=UserQuery,
    offline=lambda inputs: UserQuery.model_validate(_rewrite_offline(inputs)),
    max_tokens=800,
    temperature=0.3,
    log_offline=False,
)
SUPPLY_QUERY = Task(
    name="refusal_supply",
    output=SupplyQuery,
    offline=lambda inputs: SupplyQuery.model_validate(_supply_offline(inputs)),
    max_tokens=300,
    temperature=0.7,
    log_offline=False,
)
IRRELEVANT = Task(
    name="irrelevance",
    output=Irrelevant,
    offline=lambda inputs: Irrelevant.model_validate(_irrelevant_offline(inputs)),
    max_tokens=600,
    temperature=0.9,
    log_offline=False,
)


# -- variants --------------------------------------------------------------------------------------------


def _tool(conversation: Conversation, name: str) -> Any:
    return next(t for t in conversation.tools if t.name == name)


def _needing(turn: Turn, plan: str, conversation: Conversation) -> set[str]:
    """The calls of ``turn`` that need call ``plan``: itself, transitively every call of the turn that
    takes an input from one that does, and the helpers that only feed them."""
    needing = {plan}
    for call in turn.calls:
        if any(d.target == call.plan and d.source in needing for d in conversation.dependencies):
            needing.add(call.plan)
    for call in turn.calls:  # a helper that only feeds those waits with them
        feeds = {d.target for d in conversation.dependencies if d.source == call.plan}
        if call.implicit and feeds and feeds <= needing:
            needing.add(call.plan)
    return needing


def _keep(turn: Turn, wanted: Callable[[ToolCall], bool]) -> Turn:
    """``turn`` with only the calls ``wanted`` keeps (its steps and its plan)."""
    steps = [[c for c in step if wanted(c)] for step in turn.steps]
    kept = {c.plan for step in steps for c in step}
    return turn.model_copy(
        update={"steps": [s for s in steps if s], "planned": [c for c in turn.planned if c.id in kept]}
    )


def _split_answer_inputs(
    conversation: Conversation,
    earlier: list[Turn],
    user: str,
    split: SplitDetail,
    feedback: list[str],
    calls: list[ToolCall] | None = None,
) -> dict[str, Any]:
    tool = next(t for t in conversation.tools if t.tool_id == split.tool_id)
    return answer_inputs(
        earlier=earlier,
        style=conversation.style.model_dump(),
        user=user,
        calls=calls or [],
        feedback=feedback,
        split=split,
        function={"name": tool.name, "description": tool.description, "input_schema": tool.input_schema},
    )


def miss_func_sites(conversation: Conversation) -> list[tuple[int, ToolCall]]:
    """The first use of each tool, where removing it makes a clean ``[Q, A1, Q1, A]``."""
    seen: set[str] = set()
    sites = []
    for k, turn in enumerate(conversation.turns):
        after_split = k > 0 and conversation.turns[k - 1].split is not None
        for call in turn.calls:
            if call.tool_id in seen:
                continue
            seen.add(call.tool_id)
            if turn.split is None and not after_split and not call.implicit:
                sites.append((k, call))
    return sites


def miss_param_sites(conversation: Conversation) -> list[tuple[int, ToolCall, str]]:
    """Required values the user states first in a turn's query, once, that can be left out of it."""
    sites = []
    for k, turn in enumerate(conversation.turns):
        if turn.split is not None or (k > 0 and conversation.turns[k - 1].split is not None):
            continue
        earlier = "\n".join(t.user for t in conversation.turns[:k])
        for call in (c for c in turn.calls if not c.implicit):  # a helper's values are not the request's
            required = set(_tool(conversation, call.name).input_schema.get("required") or [])
            for trace in call.trace:
                value = call.arguments.get(trace.name)
                if trace.source != "query" or trace.name not in required or isinstance(value, bool):
                    continue
                if not isinstance(value, str | int | float) or (isinstance(value, str) and len(value) < 3):
                    continue
                others = [
                    v for c in turn.calls for n, v in c.arguments.items() if (c, n) != (call, trace.name)
                ]
                if (
                    value_in_text(value, turn.user)
                    and not value_in_text(value, earlier)
                    and value not in others
                ):
                    sites.append((k, call, trace.name))
    return sites


@dataclass
class Augmenter:
    """Makes refusal variants with one teacher; each variant is verified, retried with feedback. A
    variant depends only on its source, kind and teacher, so every caller makes the same one."""

    llm: LLM
    max_attempts: int = 3
    catalog: list[Tool] = field(default_factory=list)

    async def variant(self, source: Conversation, kind: RefusalKind) -> Conversation | None:
        """The verified variant of ``source`` (accepted or rejected with reasons), or None when the
        conversation has no place for this kind."""
        make: dict[RefusalKind, Callable[[Conversation, random.Random, list[str]], Any]] = {
            "miss-func": self._miss_func,
            "miss-params": self._miss_params,
            "irrelevance": self._irrelevance,
        }
        feedback: list[str] = []
        variant: Conversation | None = None
        for _ in range(self.max_attempts):
            rng = random.Random(f"{source.seed}/{kind}/{source.id}")  # the same variant from any caller
            try:
                turns = await make[kind](source, rng, feedback)
            except LLMOutputError as exc:
                feedback = [f"your previous answer could not be used: {exc}"]
                continue
            if turns is None:
                return None
            variant = self._conversation(source, kind, turns)
            failed = [c for c in variant.checks if not c.passed]
            if kind == "irrelevance" and [c.name for c in failed] == ["irrelevant_request"]:
                # a keyword rule: a real teacher judges the request by meaning
                turn = await judged(
                    self.llm,
                    turns[0],
                    {"irrelevant_request": failed[0].detail},
                    source.tools,
                    turns[0].user,
                    question="relevance",
                )
                variant = self._conversation(source, kind, [turn])
                failed = [c for c in variant.checks if not c.passed]
            if not failed:
                return variant
            feedback = [f"{c.name}: {c.detail}" for c in failed]
        if variant is None:
            return None
        return variant.model_copy(update={"status": "rejected", "reasons": feedback})

    def _conversation(self, source: Conversation, kind: ConversationKind, turns: list[Turn]) -> Conversation:
        draft = source.model_copy(
            update={
                "kind": kind,
                "source_id": source.id,
                "teacher": self.llm.teacher,
                "turns": turns,
                "turn_types": [t.type for t in turns],
                "checks": [],
                "reasons": [],
            }
        )
        checks = verify(draft)
        failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
        return draft.model_copy(
            update={"checks": checks, "status": "rejected" if failed else "accepted", "reasons": failed}
        )

    async def _resume(
        self,
        source: Conversation,
        original: Turn,
        earlier: list[Turn],
        deferred: set[str],
        user: str,
        feedback: list[str],
    ) -> Turn:
        """The turn after the empty one: the user's supply, the deferred calls, and their answer (the
        original one when the empty turn made no call, else one for what is left)."""
        rest = _keep(original, lambda c: c.plan in deferred)
        answer = original.assistant
        if len(rest.calls) < len(original.calls):
            inputs = answer_inputs(
                earlier=earlier,
                style=source.style.model_dump(),
                user=user,
                calls=rest.calls,
                feedback=feedback,
            )
            answer = (await self.llm.run(ASSISTANT_ANSWER, inputs)).content
        return rest.model_copy(update={"user": user, "assistant": answer})

    async def _miss_func(
        self, source: Conversation, rng: random.Random, feedback: list[str]
    ) -> list[Turn] | None:
        sites = miss_func_sites(source)
        if not sites:
            return None
        k, call = rng.choice(sites)
        original = source.turns[k]
        deferred = _needing(original, call.plan, source)
        before = [t.model_copy(update={"unavailable": [*t.unavailable, call.name]}) for t in source.turns[:k]]
        split = SplitDetail(kind="miss-func", call=call.plan, tool_id=call.tool_id)
        doable = _keep(original, lambda c: c.plan not in deferred)
        refusal = await self.llm.run(
            ASSISTANT_ANSWER,
            _split_answer_inputs(source, before, original.user, split, feedback, doable.calls),
        )
        empty = doable.model_copy(
            update={
                "type": "empty",
                "assistant": refusal.content,
                "split": split,
                "unavailable": [*original.unavailable, call.name],
            }
        )
        supply = await self.llm.run(
            SUPPLY_QUERY,
            {
                "kind": "miss-func",
                "style": source.style.model_dump(),
                "history": history([*before, empty]),
                "function": {
                    "name": call.name,
                    "description": brief(_tool(source, call.name).description, 600),
                },
                "parameter": None,
                "value": None,
                "feedback": feedback,
            },
        )
        resumed = await self._resume(source, original, [*before, empty], deferred, supply.query, feedback)
        resumed = resumed.model_copy(update={"mentions": []})
        return [*before, empty, resumed, *source.turns[k + 1 :]]

    async def _miss_params(
        self, source: Conversation, rng: random.Random, feedback: list[str]
    ) -> list[Turn] | None:
        sites = miss_param_sites(source)
        if not sites:
            return None
        k, call, parameter = rng.choice(sites)
        original, before = source.turns[k], source.turns[:k]
        value = call.arguments[parameter]
        rewritten = await self.llm.run(
            REWRITE_QUERY,
            {
                "query": original.user,
                "mentions": [m.model_dump(mode="json") for m in original.mentions],
                "call": call.plan,
                "parameter": parameter,
                "value": value,
                "style": source.style.model_dump(),
                "functions": [
                    {
                        "call": c.plan,
                        "parameters": [
                            {"name": n} for n in _tool(source, c.name).input_schema.get("properties") or {}
                        ],
                    }
                    for c in original.calls
                ],
                "feedback": feedback,
            },
        )
        tool = _tool(source, call.name)
        deferred = _needing(original, call.plan, source)
        doable = _keep(original, lambda c: c.plan not in deferred)
        filled = await self.llm.run(
            FILL_ARGUMENTS,
            fill_inputs(
                function={
                    "name": tool.name,
                    "description": brief(tool.description, 1500),
                    "input_schema": tool.input_schema,
                },
                call=call.plan,
                user_messages=[t.user for t in before] + [rewritten.query],
                context=[c for t in before for c in t.calls] + doable.calls,
                dependencies=source.dependencies,
                mentions=[*(m for t in before for m in t.mentions), *rewritten.mentions],
                feedback=feedback,
            ),
        )
        split = SplitDetail(kind="miss-param", call=call.plan, tool_id=call.tool_id, parameter=parameter)
        ask = await self.llm.run(
            ASSISTANT_ANSWER,
            _split_answer_inputs(source, before, rewritten.query, split, feedback, doable.calls),
        )
        empty = doable.model_copy(
            update={
                "type": "empty",
                "user": rewritten.query,
                "mentions": rewritten.mentions,
                "assistant": ask.content,
                "split": split,
                "refused": filled.missing,
            }
        )
        supply = await self.llm.run(
            SUPPLY_QUERY,
            {
                "kind": "miss-params",
                "style": source.style.model_dump(),
                "history": history([*before, empty]),
                "function": {"name": tool.name, "description": brief(tool.description, 600)},
                "parameter": parameter,
                "value": value,
                "feedback": feedback,
            },
        )
        resumed = await self._resume(source, original, [*before, empty], deferred, supply.query, feedback)
        resumed = resumed.model_copy(
            update={"mentions": [Mention(call=call.plan, parameter=parameter, value=value)]}
        )
        return [*before, empty, resumed, *source.turns[k + 1 :]]

    async def _irrelevance(
        self, source: Conversation, rng: random.Random, feedback: list[str]
    ) -> list[Turn] | None:
        options = unoffered_tools(self.catalog, source)
        if not options:
            return None
        for _ in range(8):  # a request with realistic values: no "element 93"
            wanted = rng.choice(options)
            properties = wanted.input_schema.get("properties") or {}
            topic = frozenset(name_tokens(wanted.name))
            values = [
                {"parameter": p, "value": stated_value(p, properties.get(p), rng, topic)}
                for p in wanted.input_schema.get("required") or []
                if p in properties
            ]
            if not any(is_placeholder(leaf, v["parameter"]) for v in values for leaf in leaves(v["value"])):
                break
        else:
            return None
        answer = await self.llm.run(
            IRRELEVANT,
            {
                "functions": [
                    {"name": t.name, "description": brief(t.description, 600)} for t in source.tools
                ],
                "wanted": {
                    "name": wanted.name,
                    "description": brief(wanted.description, 600),
                    "stated": values,
                },
                "style": source.style.model_dump(),
                "seed": f"{source.seed}/{source.id}/{len(feedback)}",
                "feedback": feedback,
            },
        )
        return [Turn(type="empty", user=answer.query, assistant=answer.answer, wanted=wanted.ref)]


def unoffered_tools(catalog: list[Tool], source: Conversation) -> list[Tool]:
    """Catalog tools of other servers than the conversation's, doing something none of its tools does
    (no shared object words), that need the outside world (not a computation) and no id: what an
    irrelevant request asks for."""
    offered = {t.tool_id for t in source.tools}
    servers = {t.tool.rsplit("/", 1)[0] for t in source.tools}
    taken = {w for t in source.tools for w in tool_object(t.name, t.description)}
    return [
        t
        for t in catalog
        if t.id not in offered
        and t.server_name not in servers
        and t.tool_class != "computation"  # arithmetic and formatting an assistant does without a tool
        and (subject := tool_object(t.name, t.description))
        and not subject & taken
        and not issued_required(t)
    ]


@dataclass
class AugmentReport:
    targets: dict[str, int] = field(default_factory=dict)
    made: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    short: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            "made": self.made,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "short": self.short,
        }


async def augment(
    store: Store,
    llm: LLM,
    mixture: Mixture | None = None,
    *,
    seed: int = 0,
    max_attempts: int = 3,
    concurrency: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> AugmentReport:
    """Add refusal variants of this teacher's accepted translations until the mixture's shares are
    met, for each sampler's data on its own (so a random-baseline run does not shift the graph data's
    shares). Sources are visited in a seeded order and stored variants count, so a rerun adds only
    what is missing. Up to ``concurrency`` variants are made at once, a new one starting only while
    accepted plus in flight is below the target, so the variants made are the same as one at a time;
    sources are read from the store in batches (their ids are what is held)."""
    mixture = mixture or Mixture()
    augmenter = Augmenter(llm, max_attempts=max_attempts, catalog=store.tools())
    report = AugmentReport()
    samplers = {
        sampler: store.conversation_ids(
            status="accepted", kind="translation", teacher=llm.teacher, sampler=sampler
        )
        for sampler in ("graph", "random")
    }
    for sampler, sources in samplers.items():
        if not sources:
            continue
        random.Random(f"augment/{seed}/{sampler}").shuffle(sources)
        targets = mixture.targets(len(sources))
        for kind in KINDS:
            have = store.variant_statuses(kind, llm.teacher, sampler)
            before = sum(s == "accepted" for s in have.values())
            made = rejected_new = 0

            async def one(source: Conversation, kind: RefusalKind = kind) -> Conversation | None:
                return await augmenter.variant(source, kind)

            def finished(
                _source: Conversation,
                variant: Conversation | None,
                done: int,
                kind: RefusalKind = kind,
                target: int = targets[kind],
            ) -> None:
                nonlocal made, rejected_new
                if variant is None:
                    return
                store.add_conversation(variant)  # a kept one: until_accepted keeps the needed ones
                made += 1
                rejected_new += variant.status == "rejected"
                if progress:
                    progress(kind, done, target)

            todo = store.conversations_by_ids(s for s in sources if s not in have)
            accepted = await until_accepted(
                todo,
                one,
                accepted=lambda variant: variant.status == "accepted",
                target=targets[kind],
                done=before,
                concurrency=concurrency,
                finished=finished,
            )
            for field_, value in (
                (report.targets, targets[kind]),
                (report.made, made),
                (report.accepted, accepted - before),
                (report.rejected, rejected_new),
                (report.short, max(0, targets[kind] - accepted)),
            ):
                field_[kind] = field_.get(kind, 0) + value
    return report
