"""The offline teacher of translation and distillation: rule-based user queries, argument filling
and answers that obey the same rules the verification checks, deterministic for the same inputs.

Its English is plain and templated; a real teacher writes the varied, natural conversations. What it
guarantees is structure: the values it states are the values it mentions, references to earlier
results never repeat them, helper calls stay implicit, and a value the user did not give is reported
missing, never invented.
"""

from __future__ import annotations

import json
import random
import re
from enum import IntEnum
from typing import Any

from graph_toucan.fields import NOUN_SYNONYMS, json_type, name_tokens, tool_object, word_set, words
from graph_toucan.references import refers_to
from graph_toucan.tracing import first_index_path, output_values, value_in_text
from graph_toucan.user_values import another_value, stated_value

_OPENERS = {
    "casual": ["Hey, can you {x}?", "Could you {x}?", "I need you to {x}.", "Can you {x} for me?"],
    "formal": ["Could you please {x}?", "I would like you to {x}.", "Please {x}."],
    "terse": ["{X}.", "{X}, please."],
    "chatty": [
        "Hi there! I'm {persona} and I could use a hand: could you {x}? Thanks a lot!",
        "Hello! As {persona}, I'm juggling a few things today. Can you {x}?",
    ],
}
_FOLLOW_UPS = ["Thanks! Now could you {x}?", "Great. Next, can you {x}?", "Lovely, and could you also {x}?"]
_AFTER_SPLIT_FUNC = {
    "casual": "Okay, I've switched that tool on for you now, so go ahead.",
    "formal": "The tool you needed is now available; please proceed.",
    "terse": "Tool enabled. Go ahead.",
    "chatty": "Good news: I've just enabled the tool you were missing, so you should be all set now!",
}


def after_split_func(register: str) -> str:
    """What the user says once the missing tool is available."""
    return _AFTER_SPLIT_FUNC.get(register, _AFTER_SPLIT_FUNC["casual"])


def name_words(name: str) -> set[str]:
    """The content words of a function's name (``get_current_weather`` -> get, current, weather)."""
    return {w for w in words(name) if len(w) > 2 and not w.isdigit() and w not in _NAME_STOP}


_NAME_STOP = frozenset({"the", "and", "for", "from", "with", "into", "via", "all", "per"})


def spells_out(name: str, text: str) -> bool:
    """Whether ``text`` holds every content word of a function name of two or more such words."""
    wanted = name_words(name)
    return len(wanted) >= 2 and wanted <= set(words(text))


# A user's verbs for what a tool's leading verb does, and name words a user leaves out.
_ASK_VERBS = {
    "read": ["look up", "check", "pull up", "find out"],
    "capture": ["grab", "capture"],
    "search": ["look for", "hunt for", "find me"],
    "list": ["show me", "give me a rundown of", "go through"],
    "create": ["set up", "put together", "make"],
    "write": ["save", "put down", "record"],
    "update": ["change", "adjust", "revise"],
    "delete": ["get rid of", "drop", "clear out"],
    "send": ["shoot off", "pass along", "deliver"],
    "convert": ["change", "turn", "translate"],
    "calculate": ["work out", "figure out", "tally up"],
    "check": ["see", "verify", "look into"],
    "book": ["reserve", "lock in", "grab"],
    "generate": ["come up with", "produce", "draft"],
    "analyze": ["dig into", "break down", "examine"],
    "open": ["go to", "bring up", "visit"],
    "run": ["kick off", "launch", "start up"],
    "play": ["put on", "start playing"],
    "stop": ["shut down", "halt", "wrap up"],
}
_VERB_FAMILY = {
    **dict.fromkeys(
        (
            "get",
            "fetch",
            "retrieve",
            "read",
            "show",
            "view",
            "describe",
            "lookup",
            "look",
            "query",
            "download",
        ),
        "read",
    ),
    **dict.fromkeys(("search", "find"), "search"),
    **dict.fromkeys(("list",), "list"),
    **dict.fromkeys(
        ("create", "add", "make", "new", "insert", "post", "register", "initialize", "init"), "create"
    ),
    **dict.fromkeys(("take", "capture", "snap"), "capture"),
    **dict.fromkeys(("write", "save"), "write"),
    **dict.fromkeys(("update", "edit", "modify", "set", "change", "patch"), "update"),
    **dict.fromkeys(("delete", "remove", "cancel", "clear"), "delete"),
    **dict.fromkeys(("send", "notify", "email"), "send"),
    **dict.fromkeys(("convert", "translate"), "convert"),
    **dict.fromkeys(("calculate", "compute", "count", "sum"), "calculate"),
    **dict.fromkeys(("check", "validate", "verify", "test"), "check"),
    **dict.fromkeys(("book", "reserve"), "book"),
    **dict.fromkeys(("generate", "summarize", "summarise"), "generate"),
    **dict.fromkeys(("analyze", "analyse", "scan"), "analyze"),
    **dict.fromkeys(("navigate", "open", "visit", "goto", "browse"), "open"),
    **dict.fromkeys(("run", "execute", "start", "launch", "trigger", "deploy", "install"), "run"),
    **dict.fromkeys(("play",), "play"),
    **dict.fromkeys(("stop", "close", "kill", "terminate"), "stop"),
}
_FILLERS = word_set(
    """current latest specific detail details info information data by for of all the a an to from with
    using api tool mcp range date list item items result results single multiple new"""
)


def plain_name(function: str) -> str:
    """The tool's own name in a function name made unique (``fetch_server__fetch_2847d`` -> ``fetch``):
    without the server prefix and the id suffix, which a user would never say."""
    return re.sub(r"_[0-9a-f]{5}$", "", function.rsplit("__", 1)[-1]) or function


def request(name: str, rng: random.Random, terse: bool = False, description: str = "") -> str:
    """What a user asks for when they want the function: the tool's verb in the user's own words and the
    thing it handles, leaving out the name's filler words (``get_current_stock_price`` -> ``check the
    stock price``), so the request does not spell out the function's name; ``terse`` names only the
    thing's head word (``check the price``), for a request whose other words would spell it out."""
    parts = words(plain_name(name)) or ["it"]
    if "to" in parts[1:-1] and not set(parts) & set(_VERB_FAMILY) and not terse:  # svg_to_png: a conversion
        at = parts.index("to")
        verb = rng.choice([v for v in _ASK_VERBS["convert"] if v not in parts])
        return f"{verb} the {' '.join(parts[:at])} into {' '.join(parts[at + 1 :])}"
    verb_at = next((i for i, w in enumerate(parts) if w in _VERB_FAMILY), None)
    family = _VERB_FAMILY.get(parts[verb_at]) if verb_at is not None else None
    rest = [w for i, w in enumerate(parts) if i != verb_at]
    content = [w for w in rest if w not in _FILLERS and not w.isdigit()] or [
        w for w in rest if not w.isdigit()
    ]
    verbs = [v for v in _ASK_VERBS[family or "read"] if not set(v.split()) & set(parts)]
    verb = rng.choice(verbs or _ASK_VERBS["read"])
    named = {w for w in parts if len(w) > 2 and not w.isdigit()}
    if terse:  # only the head of what the tool handles, in other words where it can
        intent = tool_object(plain_name(name), description)
        head = [w for w in content if w in intent][-1:] or sorted(intent)[:1] or content[-1:]
        return f"{verb} the {' '.join(NOUN_SYNONYMS.get(w, w) for w in head) or 'details'}"
    if len(named) >= 2 and named <= set(content):  # the name word for word: say one word another way
        swap = next((w for w in reversed(content) if w in NOUN_SYNONYMS), None)
        # another word for one of them, or with no other word for any, the first one left out
        content = [NOUN_SYNONYMS.get(w, w) if w == swap else w for w in content] if swap else content[1:]
    if not content and description:  # a name of verbs only (fetch): what its description says it handles
        content = sorted(tool_object(plain_name(name), description))[:1]
    return f"{verb} the {' '.join(content) or 'details'}"


def phrase(name: str) -> str:
    """A parameter or field path in words: ``places[].lat`` -> ``places lat``."""
    return " ".join(words(name.replace("[]", " "))) or name


def user_value(name: str, schema: dict[str, Any], rng: random.Random, function: str = "") -> Any:
    """A realistic value a user would state for a parameter of ``function``."""
    return stated_value(name, schema, rng, frozenset(name_tokens(function)))


def spoken(value: Any) -> str:
    """A value as the user writes it: strings quoted, so they can be found again verbatim."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " and ".join(spoken(v) for v in value)
    if isinstance(value, dict) and value:
        return "(" + ", ".join(f"{phrase(k)} {spoken(v)}" for k, v in value.items()) + ")"
    return json.dumps(value, ensure_ascii=False)


class Wording(IntEnum):
    """How far the user's words keep from a function's name, each level keeping what the one before left
    out: the next level is tried while a wording spells a function's name out."""

    FULL = 0  # what the tool does in full, values with their parameters' names, results by their fields
    TERSE = 1  # the request names only the head of what the tool handles
    PLAIN = 2  # quoted values without their parameter's name, earlier results without their field's
    BARE = 3  # earlier results without even the thing ("that one")


def reference_words(reference: dict[str, Any], rng: random.Random, wording: Wording = Wording.FULL) -> str:
    """How the user points at an earlier result: "the date of that rate", "the hotel you find";
    from ``Wording.PLAIN`` without the field's name ("that rate from before"), at ``Wording.BARE``
    without the thing too ("that one"), for a request whose other words would spell a function's name out."""
    if wording >= Wording.BARE:
        return rng.choice(
            ["the first one", "the top one"] if reference["same_turn"] else ["that one", "the one you found"]
        )
    noun = reference["nouns"][0]
    field = " ".join(reference["fields"])
    generic = wording >= Wording.PLAIN or not field or field in ("id", "name", "value", "key", "code")
    if field == noun:
        generic = True
    if reference["same_turn"]:  # the field itself when it says what is passed on (its date, its symbol)
        options = [f"the {noun} you find there", f"the first {noun} it turns up"]
        if not generic:
            options = [f"the {field} of the first {noun} you get", f"the {field} of the {noun} you find"]
    else:
        options = [f"that {noun} from before", f"the same {noun} you found earlier"]
        if not generic:
            options = [f"the {field} of that {noun}", f"that {noun}'s {field}"]
    chosen = rng.choice(options)
    return chosen if refers_to(chosen, reference) else f"that {noun}"


def write_query(inputs: dict[str, Any]) -> dict[str, Any]:
    """``query_<type>``: the user's words for a turn: what they want in their own words, every value it
    needs stated verbatim, and earlier results referred to, never repeated."""
    explicit = [f["name"] for f in inputs["functions"] if not f["implicit"]]
    for attempt in range(8):  # another wording where one spells a function's name out
        rng = random.Random(f"{inputs['seed']}/{inputs['turn']}/{len(inputs['feedback'])}/{attempt or ''}")
        missed = any("does not ask for what" in f for f in inputs["feedback"])  # say what the tool handles
        wording = max(Wording(attempt // 2), Wording.TERSE if missed else Wording.FULL)  # two tries a level
        written = _write_query(inputs, rng, wording)
        if not any(spells_out(name, written["query"]) for name in explicit):
            break
    return written


def _mentions(inputs: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """The values the user states: drawn for each asked parameter; a parallel call repeats its original's
    values except its first asked parameter, which gets a value no call of the turn has."""
    names = {f["call"]: f["name"] for f in inputs["functions"]}
    stated: dict[tuple[str, str], Any] = {}
    varied: set[str] = set()
    for a in inputs["ask_for"]:
        call, param, original = a["call"], a["parameter"], a.get("parallel_of")
        function = names.get(call, "")
        if original is None:
            stated[call, param] = user_value(param, a["schema"], rng, function)
        elif call not in varied:
            varied.add(call)
            taken = [v for (c, p), v in stated.items() if p == param]
            other = another_value(param, a["schema"], rng, taken, frozenset(name_tokens(function)))
            stated[call, param] = (
                other if other is not None else user_value(param, a["schema"], rng, function)
            )
        else:
            shared = stated.get((original, param))
            stated[call, param] = (
                shared if shared is not None else user_value(param, a["schema"], rng, function)
            )
    return [{"call": c, "parameter": p, "value": v} for (c, p), v in stated.items()]


_FOLLOW_ON = ["One more thing.", "Building on that,", "While we're at it,", "Now, going back to that:"]
_NEW_TASK = [
    "Thanks. Something else now.",
    "Great, that settles it. On another note,",
    "OK. Next thing I need:",
    "Separately, I'm also working on something else.",
]


def _write_query(inputs: dict[str, Any], rng: random.Random, wording: Wording) -> dict[str, Any]:
    plain = wording >= Wording.PLAIN
    style = inputs["style"]
    register = style["tone"] if style["tone"] in _OPENERS else "casual"
    mentions = _mentions(inputs, rng)
    stated = {(m["call"], m["parameter"]): m["value"] for m in mentions}
    clauses: list[str] = []
    helper_values: list[str] = []
    said_for: dict[str, dict[str, Any]] = {}
    for function in inputs["functions"]:
        values = [  # plain: a quoted text without the parameter's name, which may be the function's
            spoken(v) if plain and isinstance(v, str) else f"{phrase(p)} {spoken(v)}"
            for (c, p), v in stated.items()
            if c == function["call"]
        ]
        if function["implicit"]:
            helper_values.extend(values)
            continue
        own = {p: v for (c, p), v in stated.items() if c == function["call"]}
        original = said_for.get(function.get("parallel_of") or "")
        if original is not None:  # the same request again for other values: say only what differs
            other = [
                spoken(v) if plain and isinstance(v, str) else f"{phrase(p)} {spoken(v)}"
                for p, v in own.items()
                if original.get(p) != v
            ]
            clauses[-1] += f", and the same with {' and '.join(other) or 'the other one'}"
            continue
        said_for[function["call"]] = own
        refs = [
            f"for {reference_words(r, rng, wording)}"
            for r in inputs["references"]
            if r["call"] == function["call"]
        ]
        clause = request(function["name"], rng, wording >= Wording.TERSE, function.get("description", ""))
        if values:
            clause += " with " + ", ".join(values)
        if refs:
            clause += " " + " and ".join(refs)
        clauses.append(clause)
    body = ", and then ".join(clauses)
    if helper_values:
        body += f" (the {', '.join(helper_values)})" if body else f"the {', '.join(helper_values)}"
    split = inputs["follows_split"]
    prefix = ""
    if inputs.get("new_task"):  # building on an earlier result, or a new topic
        prefix = rng.choice(_FOLLOW_ON if inputs["references"] else _NEW_TASK) + " "
    if split is not None and split["kind"] == "miss-func":
        prefix = after_split_func(register) + " "
    elif split is not None and split["kind"] == "miss-param":
        given = [m for m in mentions if (m["call"], m["parameter"]) == (split["call"], split["parameter"])]
        if given:
            prefix = f"Sorry, the {phrase(split['parameter'])} is {spoken(given[0]['value'])}. "
    if not body:
        query = prefix.strip() or "Please go ahead."
    else:
        # a chatty user introduces themselves once, in their first message
        later = inputs["turn"] > 1 and register == "chatty"
        template = rng.choice(_FOLLOW_UPS if later else _OPENERS[register])
        if prefix:  # the opening words are said: the request follows them plainly
            template = rng.choice(["could you {x}?", "can you {x}?", "please {x}."])
            if not prefix.rstrip().endswith(","):
                template = template[:1].upper() + template[1:]
        query = prefix + template.format(x=body, X=body[:1].upper() + body[1:], persona=style["persona"])
    return {"query": query, "mentions": mentions}


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    """An output value passed to a parameter of another type (a partial edge: a number into a string)."""
    typ = json_type(schema)
    if typ == "string" and not isinstance(value, str) and not isinstance(value, dict | list):
        return json.dumps(value) if isinstance(value, bool) else str(value)
    if typ == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if typ in ("integer", "number") and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if typ == "integer" and number.is_integer() else number
    if typ == "array" and not isinstance(value, list):
        return [value]
    return value


def fill_arguments(inputs: dict[str, Any]) -> dict[str, Any]:
    """``fill_arguments``: each parameter from a dependency's output, else from what the user said;
    a required parameter found in neither is reported missing."""
    schema = inputs["function"]["input_schema"]
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    outputs = {c["call"]: c["output"] for c in inputs["context"]}
    said = {m["parameter"]: m["value"] for m in inputs["mentions"]}
    arguments: list[dict[str, Any]] = []
    missing: list[str] = []
    for name, sub in properties.items():
        sub = sub if isinstance(sub, dict) else {}
        dep = next((d for d in inputs["dependencies"] if d["input"] == name and d["source"] in outputs), None)
        field = first_index_path(outputs[dep["source"]], dep["output"]) if dep else None
        if dep is not None and field is not None:
            value = output_values(outputs[dep["source"]], field)[0]
            if isinstance(value, list) and value and json_type(sub) != "array":  # one item of a list
                field, value = f"{field}[0]", value[0]
            value = _coerce(value, sub)
            arguments.append(
                {"name": name, "value": value, "source": "context", "call": dep["source"], "field": field}
            )
        elif name in said and _said_in(said[name], name, inputs["user_messages"]):
            arguments.append({"name": name, "value": said[name], "source": "query"})
        elif name in required:
            missing.append(name)
    return {"arguments": arguments, "missing": missing}


def _said_in(value: Any, name: str, messages: list[str]) -> bool:
    text = "\n".join(messages)
    if isinstance(value, bool):
        return phrase(name) in text.lower()
    if isinstance(value, list):
        return all(_said_in(v, name, messages) for v in value)
    if isinstance(value, dict):
        return bool(value) and all(_said_in(v, k, messages) for k, v in value.items())
    return value_in_text(value, text)


_ANSWER_OPENERS = ["Here is what I found.", "Done.", "All set.", "Here you go.", "I checked that for you."]
_ANSWER_LINKS = ["{thing}: {facts}", "for the {thing}, {facts}", "the {thing} shows {facts}"]


def subject(function: str) -> str:
    """What a function's result is about, in words: ``get_current_stock_price`` -> ``stock price``."""
    parts = [w for w in words(plain_name(function)) if not w.isdigit()] or words(plain_name(function))
    rest = [w for w in parts if w not in _VERB_FAMILY] or parts
    return " ".join(w for w in rest if w not in _FILLERS) or " ".join(parts) or "request"


def answer(inputs: dict[str, Any]) -> dict[str, Any]:
    """``assistant_answer``: what the turn's results say, or, in a split turn, what is missing."""
    rng = random.Random(f"{inputs['user']}/{inputs['turn']}/{len(inputs['feedback'])}")
    split = inputs["split"]
    done = [c for c in inputs["calls"] if c["error"] is None]
    report = _report(done, rng) if done else ""
    if split is not None and split["kind"] == "miss-func":
        lacking = (
            f"I can't {request(split['name'], rng)} for you, though: none of the tools I have right now "
            "can do that. If you can make such a tool available, I'll take care of it right away."
        )
        return {"content": f"{report} {lacking}".strip() if report else f"I'm sorry, {lacking[2:]}"}
    if split is not None:
        what = phrase(split["parameter"])
        ask = rng.choice(
            [
                f"I can do that, but I need the {what} first. Which {what} should I use?",
                f"Before I go ahead: what {what} would you like me to use?",
                f"Could you tell me the {what}? I need it to continue.",
            ]
        )
        return {"content": f"{report} {ask}".strip()}
    failed = [
        f"I could not {request(c['function'], rng)} ({c['error']})" for c in inputs["calls"] if c["error"]
    ]
    return {"content": " ".join(filter(None, [report, *failed])) or "Done."}


def _report(calls: list[dict[str, Any]], rng: random.Random) -> str:
    facts = []
    for call in calls:
        shown = _summary(call["output"])
        thing = subject(call["function"])
        facts.append(
            rng.choice(_ANSWER_LINKS).format(thing=thing, facts=shown) if shown else f"the {thing} is done"
        )
    text = "; ".join(facts)
    return f"{rng.choice(_ANSWER_OPENERS)} {text[:1].upper()}{text[1:]}."


def _summary(output: Any, limit: int = 4) -> str:
    """A few scalar facts of an output: the top level, else the first item of its first list."""
    if isinstance(output, list):
        output = {"items": output}
    if not isinstance(output, dict):
        return spoken(output)
    facts = [f"{phrase(k)} {_plain(v)}" for k, v in output.items() if _is_scalar(v)][:limit]
    if len(facts) < limit:
        for key, value in output.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                first = [f"{phrase(k)} {_plain(v)}" for k, v in value[0].items() if _is_scalar(v)]
                facts.append(f"first of the {phrase(key)}: " + ", ".join(first[:limit]))
                break
    return ", ".join(facts)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and (not isinstance(value, str) or len(value) < 120)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else spoken(value)
