"""Data-fidelity figures of an export (issue 13): what a researcher who trains on the data would check.

    python benchmarks/fidelity.py --data DATASET_DIR [--workspace WS] [--json]

Reads the export's ``openai`` and ``dpo`` JSONL files (what was said) and the workspace, read-only, for what
the text does not show: plan ids of calls, split turns, the source conversations of refusal variants, the
planned dependencies, pair turns. The rules are its own (small lexicons below), never the verifier's checks
or counters; only the rejection reasons are the stored ``reasons`` of rejected conversations.

A value is *in the user's words* when a user message so far holds it (case- and space-normalised, whole
words; numbers compared as numbers); a *context* value is one that is not, is not the schema default, and
equals a leaf of an earlier tool result; a *reference* to an earlier result is a word of the source's output
field, of its function's object (the name without verbs) or "one(s)", with a marker up to three words before
it ("that hotel", "the second one") or after it ("the symbol from before", "the date you found"), or the
value itself quoted. Figures:

1. conversations with a context argument that no planned dependency (target call, input, source) fills;
2. cross-turn dependencies (explicit source in an earlier turn) whose target's request has no reference;
3. ``issued`` values (ids, tokens, ...) in a user message before any assistant or tool message showed them;
4. user-stated strings that look like placeholders (``calculation method 34``, ``example``, the name);
5. optional arguments not in the user's words whose request has no reference to where they came from;
6. explicit calls whose function-name words all appear in the user's request;
7. split turns leaving out a call they could make (see :func:`split_refusals`);
8. forgets-value pairs whose value the user had stated; 9. pairs by what the chosen step rewards.
Then acceptance of the workspace's translations by path length, and rejected conversations by check.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from graph_toucan.argument_sources import classify_parameter
from graph_toucan.export import INTRO
from graph_toucan.store import DB_NAME, resolve_workspace


def arguments_of(function: dict) -> dict:
    """A call's arguments: a JSON string in the openai export, an object in trl and dpo."""
    value = function.get("arguments") or {}
    return json.loads(value) if isinstance(value, str) else value


def lexicon(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A reference: a marker before the word it points at ("that hotel", "the second one"), or after it ("the
# symbol from before", "the date you found", "the hotel you find there" in a request made of several).
FORWARD = lexicon(
    "that those this these it them its their first second third fourth fifth last same earlier previous"
)
BACKWARD = lexicon("before earlier above previously previous mentioned aforementioned")
BACK_PHRASES = re.compile(
    r"\b(you (just )?(found|got|gave|showed|listed|returned|pulled|retrieved|fetched|mentioned|looked up)|"
    r"you (find|get|list|pull up|look up)( there)?|it (finds|returns|turns up|gives)|"
    r"from (the|your) (result|results|answer|search|lookup))\b"
)
VERBS = lexicon(
    "get list search find fetch create update delete set add remove run check convert calculate compute "
    "query read write send post make generate retrieve lookup look show describe analyze analyse open "
    "close start stop execute call place book cancel count validate parse format download upload load save "
    "export import view browse scan track estimate predict summarize translate edit modify insert"
)
STOP = lexicon("a an the of for to by in on at and or with from is be me my mcp tool api")
PLACEHOLDER = re.compile(
    r"\b(example|placeholder|sample|foo|bar|baz|lorem|ipsum|xxx+|dummy|string|value \d+)\b"
)
ASK = re.compile(r"\b(which|what|tell me|provide|give me|share|specify|let me know|need)\b")
OFFER = re.compile(r"\b(anything else|something else|help with|along those lines|else i can)\b")
DECLINE = re.compile(
    r"\b(can't|cannot|can not|unable|not able|don't have|do not have|none of (them|my|the)|no tool|"
    r"not available|isn't available|outside what|beyond what)\b"
)
NUMBER = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w]|\.\d)")
NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
FIGURES = [  # rule | conversations with ... | units counted | out of | targets over conversations | units
    line.split(" | ")
    for line in """
1 | a context argument that is not a planned dependency | context arguments not planned | context arguments | 0 | 0
2 | a cross-turn dependency lacking a user reference | cross-turn dependencies lacking a reference | cross-turn dependencies | <= 2% | -
3 | an issued value typed by the user before it was shown | issued values typed before shown | issued values the user typed | 0 | 0
4 | a placeholder value | placeholder values | user-stated strings | 0 | 0
5 | an optional value taken from context unasked | optional values unasked | optional values not in the user's words | <= 5% | -
6 | - | explicit calls whose function-name words all appear in the user turn | explicit calls | - | <= 10%
6+ | - | the same, names of 2+ words | explicit calls of 2+-word names | - | <= 10%
7 | a split turn that refuses a doable call | split turns refusing a doable call | split turns | 0 | 0
""".strip().splitlines()
]


def norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def words(name: str) -> list[str]:
    """snake, camel and kebab case split into lowercase words."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name))
    return re.findall(r"[a-z0-9]+", name.lower())


def stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def key(value: Any) -> tuple[str, Any] | None:
    """A scalar as compared: numbers as numbers, strings normalised; None for booleans, nulls and the rest."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, int | float):
        return ("n", round(float(value), 6))
    text = norm(value)
    if not text:
        return None
    return ("n", round(float(text), 6)) if NUMERIC.match(text) else ("s", text)


def leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in leaves(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v, f"{path}[]")]
    return [(path, value)]


class Text:
    """Text in which values are looked up: whole words, numbers as numbers."""

    def __init__(self, raw: str) -> None:
        self.norm = norm(raw)
        plain = re.sub(r"(?<=\d),(?=\d{3})", "", self.norm)
        self.numbers = {round(float(n), 6) for n in NUMBER.findall(plain)}

    def has(self, k: tuple[str, Any] | None) -> bool:
        if k is None:
            return False
        if k[0] == "n":
            return k[1] in self.numbers
        return re.search(rf"(?<![a-z0-9]){re.escape(k[1])}(?![a-z0-9])", self.norm) is not None


def user_text(messages: list[dict[str, Any]]) -> str:
    """The user messages' words, without the function definitions an export appends to them."""
    return " ".join(
        (m.get("content") or "").split(f"\n\n{INTRO}")[0] for m in messages if m["role"] == "user"
    )


def refers(text: str, targets: set[str]) -> bool:
    """A reference to one of the target words (or 'one(s)'): a forward marker up to three words before it,
    or a backward marker or phrase up to three words after it."""
    toks = re.findall(r"[a-z0-9']+", norm(text))
    joined, want = " ".join(toks), {stem(t) for t in targets} | {"one"}
    near = lambda lo, hi: any(stem(toks[j]) in want for j in range(max(0, lo), min(len(toks), hi)))  # noqa: E731
    back = [joined[: m.start()].count(" ") for m in BACK_PHRASES.finditer(joined)]
    marked = any(
        (t in FORWARD and near(i + 1, i + 4)) or (t in BACKWARD and near(i - 3, i))
        for i, t in enumerate(toks)
    )
    return marked or any(near(i - 3, i) for i in back)


def object_words(name: str) -> set[str]:
    return {w for w in words(name) if w not in VERBS and w not in STOP and not w.isdigit()}


def is_placeholder(param: str, value: str) -> str | None:
    """'param words + number' (``vs currencie 86`` for vs_currencies), a placeholder word, or the name."""
    text, pwords = norm(value), words(param)
    match = re.match(r"^([a-z][a-z ]*?)[ _-]*\d{1,4}$", text)  # a generated id has more digits
    like = lambda w, p: w == p or (min(len(w), len(p)) >= 4 and (p.startswith(w) or w.startswith(p)))  # noqa: E731
    if match and all(any(like(w, p) for p in pwords) for w in match.group(1).split()):
        return "param words + number"
    if PLACEHOLDER.search(text):
        return "placeholder word"
    return "parameter name" if [stem(w) for w in words(text)] == [stem(w) for w in pwords] else None


@dataclass
class Call:
    id: str
    name: str
    args: dict[str, Any]
    turn: int
    index: int
    plan: str | None
    implicit: bool
    out_index: int = -1
    output: Any = None


@dataclass
class Arg:
    param: str
    path: str
    value: Any
    user: bool
    default: bool
    holders: list[tuple[Call, str]] = field(default_factory=list)  # earlier calls whose output holds it


class Workspace:
    """The workspace database, read-only (immutable while no writer holds a WAL file, so nothing is left)."""

    def __init__(self, folder: str | None) -> None:
        path = resolve_workspace(folder) / DB_NAME
        if not path.is_file():
            sys.exit(f"no workspace database at {path}; pass --workspace DIR (the run's gt-workspace)")
        mode = "ro" if Path(f"{path}-wal").exists() else "ro&immutable=1"
        db = sqlite3.connect(f"file:{path}?mode={mode}", uri=True)
        self.convs = {i: json.loads(d) for i, d in db.execute("select id, data from conversations")}
        self.paths = {i: json.loads(d) for i, d in db.execute("select id, data from paths")}
        self.pairs = {i: json.loads(d) for i, d in db.execute("select id, data from pairs")}
        self.classes: dict[str, dict[str, str]] = {}
        if "parameter_classes" in {r[1] for r in db.execute("pragma table_info(tools)")}:
            sql = "select id, parameter_classes from tools where parameter_classes is not null"
            self.classes = {i: json.loads(c) for i, c in db.execute(sql)}
        db.close()


def read_jsonl(folder: Path) -> list[dict[str, Any]]:
    files = [folder / f"{s}.jsonl" for s in ("train", "validation") if (folder / f"{s}.jsonl").is_file()]
    if not files:
        sys.exit(f"no train.jsonl or validation.jsonl in {folder}; pass --data DIR, an export's folder")
    rows = [json.loads(line) for f in files for line in f.open(encoding="utf-8") if line.strip()]
    if any("id" not in r for r in rows):
        sys.exit(
            f"rows in {folder} have no 'id': export with metadata (the default) so they join the workspace"
        )
    return rows


class Conversation:
    """One exported conversation (its messages) joined to its workspace record and plan."""

    def __init__(self, row: dict[str, Any], ws: Workspace) -> None:
        self.id, self.kind, self.ws = row["id"], row.get("kind"), ws
        self.rec = ws.convs.get(self.id) or sys.exit(
            f"conversation {self.id} is not in the workspace; pass the export's --workspace"
        )
        self.turns = self.rec["turns"]
        path = ws.paths.get(self.rec["path_id"]) or {}
        self.deps = path.get("dependencies", self.rec.get("dependencies", []))
        self.tools = {t["name"]: t for t in self.rec["tools"]}
        made = {c["id"]: c for t in self.turns for s in t["steps"] for c in s}
        self.users: list[str] = []
        self.messages: list[tuple[str, Text]] = []
        self.calls: list[Call] = []
        for i, m in enumerate(row["messages"]):
            text = user_text([m]) if m["role"] == "user" else m.get("content") or ""
            self.users += [text] if m["role"] == "user" else []
            for tc in m.get("tool_calls") or []:
                rec, fn = made.get(tc["id"], {}), tc["function"]
                args = arguments_of(fn)
                turn = len(self.users) - 1
                self.calls.append(
                    Call(tc["id"], fn["name"], args, turn, i, rec.get("plan"), bool(rec.get("implicit")))
                )
            for call in self.calls:
                if m["role"] == "tool" and m.get("tool_call_id") == call.id:
                    call.out_index, call.output = i, json.loads(text) if text.strip() else None
            self.messages.append((m["role"], Text(text)))
        self.so_far = [Text(" ".join(self.users[: k + 1])) for k in range(len(self.users))]
        self.args = {c.id: self._args(c) for c in self.calls}

    def _args(self, call: Call) -> list[Arg]:
        props = (self.tools.get(call.name, {}).get("input_schema") or {}).get("properties") or {}
        said, out = self.so_far[call.turn], []
        for param, value in call.args.items():
            default = (props.get(param) or {}).get("default", ...)
            for path, leaf in leaves(value, param):
                if (k := key(leaf)) is None:
                    continue
                is_default = value == default or (default is not ... and key(default) == k)
                earlier = [c for c in self.calls if -1 < c.out_index < call.index]
                holders = [(c, p) for c in earlier for p, v in leaves(c.output) if key(v) == k]
                out.append(Arg(param, path, leaf, said.has(k), is_default, holders))
        return out

    def request(self, turn: int) -> str:
        """The user's words asking for a turn's calls: its message, and the split turn's before it."""
        before = self.users[turn - 1] + " " if turn > 0 and self.turns[turn - 1].get("split") else ""
        return before + self.users[turn]

    def planned(self, source: str | None, target: str | None, param: str) -> bool:
        return any((d["source"], d["target"], d.get("input")) == (source, target, param) for d in self.deps)

    def issued(self, call: Call, param: str) -> bool:
        """The annotated class (conversation tool, else workspace tool), else the offline rule."""
        tool = self.tools.get(call.name, {})
        known = tool.get("parameter_classes") or self.ws.classes.get(tool.get("tool_id")) or {}
        schema = ((tool.get("input_schema") or {}).get("properties") or {}).get(param) or {}
        return (known.get(param) or classify_parameter(param, schema)) == "issued"

    def first(self, k: tuple[str, Any] | None, user: bool) -> int | None:
        """The first message (a user one, or an assistant or tool one) holding the value."""
        return next((i for i, (r, t) in enumerate(self.messages) if (r == "user") == user and t.has(k)), None)


def split_refusals(conv: Conversation, k: int) -> list[str]:
    """The calls split turn ``k`` could have made but did not: those its request asked for (for the split a
    refusal variant adds, the source conversation's turn with the split call; for a split the path already
    had, the turn's own plan), less implicit
    helpers, the split call, and every call depending on it (by a planned dependency or a value taken from
    its output, transitively)."""
    split = conv.turns[k]["split"]
    source = conv.ws.convs.get(conv.rec.get("source_id") or "")
    asked = [c["id"] for c in conv.turns[k].get("planned") or [] if not c.get("implicit")]
    inherited = bool(source) and any(t.get("split") == split for t in source["turns"])  # the path's own
    if source and conv.kind in ("miss-func", "miss-params") and not inherited:
        turns = [[c for s in t["steps"] for c in s] for t in source["turns"]]
        calls = next((t for t in turns if any(c["plan"] == split["call"] for c in t)), [])
        asked = [c["plan"] for c in calls if not c.get("implicit")]
    flows = {(d["source"], d["target"]) for d in conv.deps}
    flows |= {
        (h.plan, c.plan) for c in conv.calls for a in conv.args[c.id] if not a.user for h, _ in a.holders
    }
    blocked = {split["call"]}
    while more := {t for s, t in flows if s in blocked} - blocked:
        blocked |= more
    made = {c.plan for c in conv.calls if c.turn == k}
    return [c for c in asked if c not in blocked | made]


def behaviour(row: dict[str, Any], context: str | None) -> str:
    """What the chosen step rewards: a call, asking for a missing value, declining, answering after results.
    By its content, with the turn (a miss-param or miss-func split, an irrelevance request) breaking ties."""
    chosen = row["chosen"][0]
    if chosen.get("tool_calls"):
        return "call"
    text = norm(chosen.get("content") or "")
    questions = [q for q in re.findall(r"[^.!?]*\?", text) if not OFFER.search(q)]
    if any(ASK.search(q) for q in questions) or (questions and context == "miss-param"):
        return "ask"
    if DECLINE.search(text) or context in ("miss-func", "irrelevance"):
        return "decline"
    return "answer" if row["prompt"] and row["prompt"][-1]["role"] == "tool" else "other text"


class Tally:
    """Hits and totals per figure, the conversations with a hit, and examples."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.convs: dict[str, set[str]] = defaultdict(set)
        self.examples: dict[str, list[str]] = defaultdict(list)

    def add(self, rule: str, conv: str, hit: bool, detail: str) -> None:
        self.seen[rule] += 1
        if hit:
            self.hits[rule] += 1
            self.convs[rule].add(conv)
            self.examples[rule].append(f"{conv}: {detail}")


def check(conv: Conversation, t: Tally, placeholders: Counter[str]) -> None:
    """Rules 1 to 7 over one conversation."""
    stated: set[tuple[str, str]] = set()
    for call in conv.calls:
        request = conv.request(call.turn)
        required = (conv.tools.get(call.name, {}).get("input_schema") or {}).get("required") or []
        where = f"turn {call.turn + 1} {call.name}"
        for a in conv.args[call.id]:
            detail = f"{where}({a.path}={a.value!r})"
            if not (a.user or a.default) and a.holders:
                planned = any(conv.planned(h.plan, call.plan, a.param) for h, _ in a.holders)
                sources = sorted({f"{h.plan}.{p}" for h, p in a.holders})
                t.add("1", conv.id, not planned, f"{detail} from {sources}")
            if a.user and conv.issued(call, a.param):
                said, shown = conv.first(key(a.value), True), conv.first(key(a.value), False)
                t.add("3", conv.id, said is not None and (shown is None or shown > said), detail)
            if a.user and isinstance(a.value, str) and (a.param, a.value) not in stated:
                stated.add((a.param, a.value))
                look = is_placeholder(a.param, a.value)
                t.add("4", conv.id, look is not None, f"{detail} {look}")
                placeholders.update([look] if look else [])
            if a.param not in required and not (a.user or a.default):
                refs = any(refers(request, set(words(p)) | object_words(h.name)) for h, p in a.holders)
                t.add("5", conv.id, not refs, detail)
        if not call.implicit:
            name, said_words = words(call.name), {stem(w) for w in words(norm(request))}
            hit = bool(name) and all(stem(w) in said_words for w in name)
            t.add("6", conv.id, hit, f"{where}: {request!r}")
            if len(name) >= 2:
                t.add("6+", conv.id, hit, f"{where}: {request!r}")
    for d in conv.deps:
        src = next((x for x in conv.calls if x.plan == d["source"]), None)
        tgt = next((x for x in conv.calls if x.plan == d["target"]), None)
        if not d.get("input") or not src or not tgt or src.implicit or src.turn >= tgt.turn:
            continue
        request = conv.request(tgt.turn)
        quoted = any(Text(request).has(key(v)) for _, v in leaves(tgt.args.get(d["input"])))
        referenced = quoted or refers(request, set(words(d.get("output") or "")) | object_words(src.name))
        t.add("2", conv.id, not referenced, f"{d['source']}->{d['target']}.{d['input']}: {request!r}")
    for k, turn in enumerate(conv.turns):
        if turn.get("split"):
            missing = split_refusals(conv, k)
            t.add("7", conv.id, bool(missing), f"turn {k + 1} {turn['split']['kind']} left out {missing}")


def pair_figures(data: Path, ws: Workspace) -> dict[str, Any]:
    """Pairs by kind and what the chosen step rewards; forgets-value pairs whose value the user stated: the
    chosen call's argument for the parameter the rejected text asks for, in the prompt's user messages."""
    rows = read_jsonl(data / "dpo") if (data / "dpo").is_dir() else []
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    forgets = stated = unidentified = 0
    for row in rows:
        rec = ws.pairs.get(row["id"], {})
        conv = ws.convs.get(row.get("conversation_id") or rec.get("conversation_id") or "", {})
        turns = conv.get("turns") or []
        turn = turns[rec["turn"] - 1] if 0 < rec.get("turn", 0) <= len(turns) else {}
        context = (
            "irrelevance" if conv.get("kind") == "irrelevance" else (turn.get("split") or {}).get("kind")
        )
        by_kind[row.get("kind", "?")][behaviour(row, context)] += 1
        if row.get("kind") != "forgets-value":
            continue
        forgets += 1
        asked = set(words(row["rejected"][0].get("content") or ""))
        calls = row["chosen"][0].get("tool_calls") or []
        args = {p: v for tc in calls for p, v in arguments_of(tc["function"]).items()}
        named = [p for p in args if words(p) and set(words(p)) <= asked] or (
            list(args) if len(args) == 1 else []
        )
        unidentified += not named
        said = Text(user_text(row["prompt"]))
        stated += any(said.has(key(leaf)) for p in named for _, leaf in leaves(args[p]))
    behaviours = sum(by_kind.values(), Counter())
    by_kind_ = {k: dict(v) for k, v in by_kind.items()}
    return {
        "total": len(rows),
        "behaviours": dict(behaviours),
        "by_kind": by_kind_,
        "forgets": forgets,
        "forgets_stated": stated,
        "forgets_unidentified": unidentified,
    }


def workspace_figures(ws: Workspace) -> dict[str, Any]:
    """Acceptance of translations by path length (planned calls), and rejected conversations by check."""
    by_length: dict[int, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for rec in ws.convs.values():
        if rec.get("kind") == "translation":
            path = ws.paths.get(rec["path_id"]) or {}
            by_length[sum(len(t["calls"]) for t in path.get("turns", []))][rec["status"]] += 1
        if rec.get("status") == "rejected":
            names = set()
            for reason in rec.get("reasons") or []:
                text = re.sub(r"^turn \d+:\s*", "", reason)
                match = re.match(r"([a-z_]+):", text)
                names.add(match.group(1) if match else " ".join(text.split()[:3]) + " ...")
            reasons.update(names or {"(no reason)"})
    accept = {
        str(k): {
            "accepted": v["accepted"],
            "all": v.total(),
            "rate": round(100 * v["accepted"] / v.total(), 1),
        }
        for k, v in sorted(by_length.items())
    }
    return {"acceptance_by_path_length": accept, "rejection_reasons": dict(reasons.most_common())}


def figure(label: str, count: int, of: int, target: str, over: str = "conversations") -> dict[str, Any]:
    share = round(100 * count / of, 1) if of else None
    return {"figure": label, "count": count, "of": of, "over": over, "share": share, "target": target}


def measure(data: Path, ws: Workspace) -> dict[str, Any]:
    convs = [Conversation(r, ws) for r in read_jsonl(data / "openai")]
    t, placeholders = Tally(), Counter[str]()
    for conv in convs:
        check(conv, t, placeholders)
    figures, n = [], len(convs)
    for rule, with_, units, of, conv_target, unit_target in FIGURES:
        if with_ != "-":
            figures.append(figure(f"{rule} conversations with {with_}", len(t.convs[rule]), n, conv_target))
        label = f"{rule} {units}" if with_ == "-" else f"  {units}"
        figures.append(figure(label, t.hits[rule], t.seen[rule], unit_target.strip("-"), of))
    pairs = pair_figures(data, ws)
    label = "8 forgets-value pairs whose value the user had stated"
    figures.append(figure(label, pairs["forgets_stated"], pairs["forgets"], "100%", "forgets-value pairs"))
    for b in ("ask", "decline", "answer"):
        label = f"9 pairs whose chosen step rewards: {b}"
        figures.append(figure(label, pairs["behaviours"].get(b, 0), pairs["total"], "present", "pairs"))
    return {
        "dataset": str(data),
        "conversations": n,
        "kinds": dict(Counter(x.kind for x in convs)),
        "figures": figures,
        "placeholder_kinds": dict(placeholders),
        "pairs": pairs,
        **workspace_figures(ws),
        "examples": {rule: lines[:5] for rule, lines in sorted(t.examples.items())},
    }


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        out.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(str(x) for x in row))
    return out


def show(result: dict[str, Any], console: Console) -> None:
    kinds = ", ".join(f"{k} {v}" for k, v in result["kinds"].items())
    title = f"fidelity of {result['dataset']}: {result['conversations']} conversations ({kinds})"
    rows = [
        [
            f["figure"],
            f["count"],
            f"{f['of']} {f['over']}",
            "-" if f["share"] is None else f"{f['share']}%",
            f["target"],
        ]
        for f in result["figures"]
    ]
    console.print(table(title, ["figure", "count", "of", "share", "target"], rows))
    pairs = result["pairs"]
    console.print(
        f"placeholder kinds: {result['placeholder_kinds']}; forgets-value pairs naming no parameter "
        f"of the chosen call: {pairs['forgets_unidentified']}"
    )
    behaviours = sorted({b for v in pairs["by_kind"].values() for b in v})
    rows = [[kind, *(counts.get(b, 0) for b in behaviours)] for kind, counts in pairs["by_kind"].items()]
    console.print(table("preference pairs by what the chosen step rewards", ["kind", *behaviours], rows))
    rows = [
        [k, v["accepted"], v["all"], f"{v['rate']}%"] for k, v in result["acceptance_by_path_length"].items()
    ]
    console.print(
        table("translations: acceptance by path length", ["planned calls", "accepted", "all", "rate"], rows)
    )
    rows = [[k, v] for k, v in result["rejection_reasons"].items()]
    console.print(table("rejected conversations by check (stored reasons)", ["check", "conversations"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="export folder holding openai/ and dpo/")
    parser.add_argument("--workspace", default=None, help="workspace folder (default ./gt-workspace)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args()
    result = measure(args.data, Workspace(args.workspace))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result, Console(width=None if sys.stdout.isatty() else 160))


if __name__ == "__main__":
    main()
