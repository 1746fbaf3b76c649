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
from typing import Any

from graph_toucan.fields import json_type
from graph_toucan.mock.flatten import FlatField
from graph_toucan.mock.values import plausible_value
from graph_toucan.schema import example_value
from graph_toucan.tracing import first_index_path, output_values, value_in_text

_READ_VERBS = {"get", "fetch", "retrieve", "show", "find", "lookup", "read", "view", "describe", "query"}
_OPENERS = {
    "casual": ["Hey, can you {x}?", "Could you {x}?", "I need you to {x}.", "Can you {x} for me?"],
    "formal": ["Could you please {x}?", "I would like you to {x}.", "Please {x}."],
    "terse": ["{X}.", "{X}, please."],
    "chatty": [
        "Hi there! I'm {persona} and I could use a hand: could you {x}? Thanks a lot!",
        "Hello! As {persona}, I'm juggling a few things today. Can you {x}?",
    ],
}
_AFTER_SPLIT_FUNC = {
    "casual": "Okay, I've switched that tool on for you now, so go ahead.",
    "formal": "The tool you needed is now available; please proceed.",
    "terse": "Tool enabled. Go ahead.",
    "chatty": "Good news: I've just enabled the tool you were missing, so you should be all set now!",
}


def after_split_func(register: str) -> str:
    """What the user says once the missing tool is available."""
    return _AFTER_SPLIT_FUNC.get(register, _AFTER_SPLIT_FUNC["casual"])


def words(identifier: str) -> list[str]:
    """The words of an identifier: ``getCurrentWeather`` and ``get_current_weather`` both give
    ``['get', 'current', 'weather']``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", identifier)
    return [w.lower() for w in re.findall(r"[A-Za-z]+|[0-9]+", spaced)]


def intent(name: str) -> str:
    """What calling the function asks for, in words: ``get_current_weather`` -> ``get the current weather``."""
    parts = words(name) or ["it"]
    if parts[0] in _READ_VERBS:
        return f"{'look up' if parts[0] == 'lookup' else parts[0]} the {' '.join(parts[1:]) or 'details'}"
    if len(parts) > 1 and parts[0] in {"search", "list", "convert", "calculate", "check", "create", "send"}:
        return " ".join(parts)
    return f"get the {' '.join(parts)}"


def phrase(name: str) -> str:
    """A parameter or field path in words: ``places[].lat`` -> ``places lat``."""
    return " ".join(words(name.replace("[]", " "))) or name


def user_value(name: str, schema: dict[str, Any], rng: random.Random) -> Any:
    """A plausible value a user would state for a parameter."""
    typ = json_type(schema)
    if typ in ("string", "integer", "number", "boolean"):
        return plausible_value(FlatField(key=name, path=name, type=typ, schema=schema), rng)
    if typ == "array":
        item = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
        return [user_value(name.rstrip("s"), item, rng)]
    return example_value(schema, name)


def spoken(value: Any) -> str:
    """A value as the user writes it: strings quoted, so they can be found again verbatim."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " and ".join(spoken(v) for v in value)
    return json.dumps(value, ensure_ascii=False)


def write_query(inputs: dict[str, Any]) -> dict[str, Any]:
    """``query_<type>``: the user's words for a turn, stating every value it mentions verbatim."""
    rng = random.Random(f"{inputs['seed']}/{inputs['turn']}/{len(inputs['feedback'])}")
    style = inputs["style"]
    register = style["tone"] if style["tone"] in _OPENERS else "casual"
    mentions = [
        {
            "call": a["call"],
            "parameter": a["parameter"],
            "value": user_value(a["parameter"], a["schema"], rng),
        }
        for a in inputs["ask_for"]
    ]
    stated = {(m["call"], m["parameter"]): m["value"] for m in mentions}
    clauses: list[str] = []
    helper_values: list[str] = []
    for function in inputs["functions"]:
        values = [f"{phrase(p)} {spoken(v)}" for (c, p), v in stated.items() if c == function["call"]]
        if function["implicit"]:
            helper_values.extend(values)
            continue
        refs = [
            f"that {phrase(r['output']).split()[-1]} from before"
            for r in inputs["references"]
            if r["call"] == function["call"]
        ]
        clause = intent(function["name"])
        details = values + refs
        if details:
            clause += " with " + ", ".join(details)
        clauses.append(clause)
    body = ", and then ".join(clauses)
    if helper_values:
        body += f" (use {', '.join(helper_values)})" if body else f"use {', '.join(helper_values)}"
    split = inputs["follows_split"]
    prefix = ""
    if split is not None and split["kind"] == "miss-func":
        prefix = after_split_func(register) + " "
    elif split is not None and split["kind"] == "miss-param":
        given = [m for m in mentions if (m["call"], m["parameter"]) == (split["call"], split["parameter"])]
        if given:
            prefix = f"Sorry, the {phrase(split['parameter'])} is {spoken(given[0]['value'])}. "
    if not body:
        query = prefix.strip() or "Please go ahead."
    else:
        template = rng.choice(_OPENERS[register])
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
            value = _coerce(output_values(outputs[dep["source"]], field)[0], sub)
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
    return value_in_text(value, text)


def answer(inputs: dict[str, Any]) -> dict[str, Any]:
    """``assistant_answer``: the turn's results in words, or, in a split turn, what is missing."""
    split = inputs["split"]
    if split is not None and split["kind"] == "miss-func":
        return {
            "content": f"I'm sorry, I can't {intent(split['name'])} with the tools I have right now: none of "
            "them offers that. If you can make such a tool available, I'll do it right away."
        }
    if split is not None:
        what = phrase(split["parameter"])
        return {"content": f"I can do that, but I need the {what} first. Which {what} should I use?"}
    facts: list[str] = []
    for call in inputs["calls"]:
        if call["error"] is not None:
            facts.append(f"{intent(call['function'])} failed ({call['error']})")
            continue
        shown = _summary(call["output"])
        facts.append(
            f"{phrase(call['function'])}: {shown}" if shown else f"{phrase(call['function'])} is done"
        )
    return {"content": "Here is what I found. " + "; ".join(facts) + "."}


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


def follow_hint(inputs: dict[str, Any]) -> dict[str, Any]:
    """``assistant_step``: the offline teacher does what the hint says (distillation then compares the
    step with the reference: a right hint gives the chosen step, a wrong one the rejected step)."""
    hint = inputs["hint"]
    if hint["calls"]:
        return {"calls": hint["calls"], "content": ""}
    return {"calls": [], "content": hint["content"]}
