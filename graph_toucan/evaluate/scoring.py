"""Scoring one turn against the reference, BFCL-style.

A turn is correct when every check holds:

- ``calls``: the model's calls, in order, cut into the reference's steps (a model may make one step's
  parallel calls as consecutive messages), equal each step's calls as a multiset: the same function and
  equal arguments (numbers as numbers, strings compared as BFCL does: case, spaces and ``,./-_*^``
  ignored); an argument only one side gives is tolerated when it is optional and the value given is its
  schema default (or null);
- ``offered``: no call names a function not offered in that turn;
- ``state``: what the turn did to the mock entity store (records written, changed or deleted) equals what
  the reference's calls did in the same turn, so an earlier wrong turn is not counted again;
- ``answered``: the turn ends with a text message within the step limit. Where the reference asks for a
  missing value or declines, this and ``calls`` together say the model did the same: it stopped without
  the call it could not make and answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graph_toucan.ids import canonical_json
from graph_toucan.tracing import same_value

CHECKS = ("calls", "offered", "state", "answered")
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


def same_argument(a: Any, b: Any) -> bool:
    """Equal argument values: JSON values with numbers as numbers and strings as BFCL compares them."""
    if isinstance(a, str) and isinstance(b, str):
        return _BFCL_STRIP.sub("", a).casefold() == _BFCL_STRIP.sub("", b).casefold()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_argument(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_argument(x, y) for x, y in zip(a, b, strict=True))
    return same_value(a, b)


def _tolerated(name: str, value: Any, schema: dict[str, Any]) -> bool:
    """An argument one side leaves out: fine when optional and given as its default (or null)."""
    if name in (schema.get("required") or []):
        return False
    prop = (schema.get("properties") or {}).get(name)
    if value is None:
        return True
    return isinstance(prop, dict) and "default" in prop and same_argument(value, prop["default"])


def same_call(
    model: tuple[str, dict[str, Any] | None], reference: tuple[str, dict[str, Any]], schema: dict[str, Any]
) -> bool:
    name, arguments = model
    if name != reference[0] or arguments is None:
        return False
    wanted = reference[1]
    for key in arguments.keys() | wanted.keys():
        if key in arguments and key in wanted:
            if not same_argument(arguments[key], wanted[key]):
                return False
        elif not _tolerated(key, arguments.get(key, wanted.get(key)), schema):
            return False
    return True


def _same_multiset(
    model: list[tuple[str, dict[str, Any] | None]],
    reference: list[tuple[str, dict[str, Any]]],
    schemas: dict[str, dict[str, Any]],
) -> bool:
    left = list(reference)
    for call in model:
        match = next((i for i, r in enumerate(left) if same_call(call, r, schemas.get(r[0], {}))), None)
        if match is None:
            return False
        left.pop(match)
    return not left


def match_steps(
    model: list[tuple[str, dict[str, Any] | None]],
    reference: list[list[tuple[str, dict[str, Any]]]],
    schemas: dict[str, dict[str, Any]],
) -> str | None:
    """Why the model's calls (flat, in order) do not match the reference's steps, or None."""
    wanted = sum(len(step) for step in reference)
    if len(model) != wanted:
        return f"{len(model)} call(s) where the reference makes {wanted}"
    at = 0
    for k, step in enumerate(reference, start=1):
        chunk = model[at : at + len(step)]
        at += len(step)
        if not _same_multiset(chunk, step, schemas):
            got = ", ".join(_show(c) for c in chunk)
            want = ", ".join(_show(c) for c in step)
            return f"step {k}: {got} where the reference calls {want}"
    return None


def _show(call: tuple[str, Any]) -> str:
    arguments = call[1]
    return f"{call[0]}({canonical_json(arguments) if arguments is not None else '<unreadable>'})"


def state_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two entity stores (``EntityStore.to_json``): records by (server, kind, key)
    that are new, changed or gone, and keys newly deleted. Ids merely seen are not state."""

    def flat(store: dict[str, Any]) -> dict[str, Any]:
        return {
            f"{server}/{kind}/{key}": canonical_json(record)
            for server, kinds in (store.get("records") or {}).items()
            for kind, records in kinds.items()
            for key, record in records.items()
        }

    def gone(store: dict[str, Any]) -> set[str]:
        return {
            f"{server}/{kind}/{key}"
            for server, kinds in (store.get("deleted") or {}).items()
            for kind, keys in kinds.items()
            for key in keys
        }

    old, new = flat(before), flat(after)
    return {
        "records": {k: new.get(k) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)},
        "deleted": sorted(gone(after) - gone(before)),
    }


def same_state(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Two stores hold the same records and deletions (ids seen aside)."""
    return state_delta({}, a or {}) == state_delta({}, b or {})


@dataclass
class TurnScore:
    checks: dict[str, bool]
    problems: list[str]

    @property
    def correct(self) -> bool:
        return all(self.checks.values())


def score_turn(
    *,
    model_calls: list[tuple[str, dict[str, Any] | None]],
    reference_steps: list[list[tuple[str, dict[str, Any]]]],
    offered: Iterable[str],
    schemas: dict[str, dict[str, Any]],
    model_delta: dict[str, Any],
    reference_delta: dict[str, Any],
    answered: bool,
) -> TurnScore:
    offered = set(offered)
    problems: list[str] = []
    mismatch = match_steps(model_calls, reference_steps, schemas)
    if mismatch:
        problems.append(f"calls: {mismatch}")
    strays = sorted({name for name, _ in model_calls if name not in offered})
    if strays:
        problems.append(f"offered: called {', '.join(strays)}, not offered in this turn")
    if model_delta != reference_delta:
        problems.append(
            f"state: the turn changed {canonical_json(model_delta)[:300]} where the reference changed "
            f"{canonical_json(reference_delta)[:300]}"
        )
    if not answered:
        problems.append("answered: no text answer ended the turn")
    checks = {
        "calls": mismatch is None,
        "offered": not strays,
        "state": model_delta == reference_delta,
        "answered": answered,
    }
    return TurnScore(checks, problems)
