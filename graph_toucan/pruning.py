"""Candidate pruning: for each tool, the few tools its outputs could plausibly feed, before judging.

Judging every ordered pair is quadratic (3,150 tools are ~10M pairs). Each output field and each
input parameter becomes a small document: its name words (weighted double, plus the tool's object
words when the name is generic, like ``id``), the first content words of its description, and words
for what the value means (``fmt:airport``, ``unit:gallon``, ``qty:count``, and ``of:user`` for an id of
a user), so ``get_user_id -> user_id`` meets ``send_message(receiver_id: "User ID of the user ...")``
and ``liter_to_gallon -> gallon`` meets ``fillFuelTank(fuelAmount: "... in gallons")``. Outputs that
only report how a call went (a status message) get no document. TF-IDF (scikit-learn) weights rare
words up and common ones (``id``, ``name``) down, and one sparse matrix product scores every field
against every parameter at once. A pair's score is how much of the target's inputs the source's
outputs cover, with type compatibility enforced (one item of a list fills a scalar) and a small
bonus for the same server or category. Tools with a yes/no output (``exists``) also keep the tools
about the same object, for prerequisite edges.

By default the selection is global, by a ``budget`` of pairs per tool (30): every tool keeps its
``floor`` best other-server candidates and its prerequisite pairs, and the rest of the
``budget * tools`` pairs go to the best-scoring pairs of the whole catalog, wherever they are (a tool
with many good targets keeps more than one with few). Scores are computed a chunk of sources at a
time and merged into a running top-k with numpy, so memory grows with the number of tools times the
budget, not with the pairs scored. On the TOUCAN catalog this keeps 88% of the edges that judging
every pair finds, against 43% for the same number of pairs chosen per tool.

With a ``cap`` instead, each tool keeps its ``cap`` best candidates, of which at least ``floor``
come from other servers when any qualify.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graph_toucan.argument_sources import classify_parameter
from graph_toucan.fields import GENERIC, USER_SUPPLIED, is_outcome, name_tokens, text_tokens, types_compatible
from graph_toucan.judge import FLAGS, Meaning, Node, Param, field_meaning, flag_fields, param_meaning
from graph_toucan.schema import SchemaField

_TYPES = ["string", "integer", "number", "boolean", "array", "object", "null"]
_SCALARS = ("string", "integer", "number")
# One item of a list output can fill a scalar parameter.
_COMPAT = np.array(
    [[types_compatible(a, b) or (a == "array" and b in _SCALARS) for b in _TYPES] for a in _TYPES]
)
_DESCRIPTION_WORDS = 8


DEFAULT_BUDGET = 30.0  # judged pairs per tool, ranked over all pairs (recall 88% on the TOUCAN catalog)


@dataclass(frozen=True)
class PruneConfig:
    """How many candidate pairs are judged: a ``budget`` (pairs per tool in total, the best over all
    pairs; the default, :data:`DEFAULT_BUDGET`) or a ``cap`` (the best per tool), not both."""

    cap: int | None = None
    floor: int = 5
    same_server_bonus: float = 0.15
    same_category_bonus: float = 0.05
    chunk: int = 256
    budget: float | None = None

    def __post_init__(self) -> None:
        if self.cap is not None and self.cap < 1:
            raise ValueError("cap must be at least 1")
        if self.budget is not None and self.budget < 1:
            raise ValueError("budget must be at least 1 pair per tool")
        if self.floor < 0:
            raise ValueError("floor must be at least 0")
        problem = selection_problem(self.cap, self.budget, self.floor)
        if problem:
            raise ValueError(problem)
        if self.cap is None and self.budget is None:
            object.__setattr__(self, "budget", DEFAULT_BUDGET)


def selection_problem(
    cap: int | None, budget: float | None, floor: int, name: Callable[[str], str] = str
) -> str | None:
    """What is wrong with a choice of ``cap``, ``budget`` and ``floor`` (``None``: nothing), each
    setting named by ``name`` (the CLI's ``--cap``), so every front end says it in the same words."""
    if cap is not None and budget is not None:
        return f"give {name('budget')} or {name('cap')}, not both"
    if cap is not None and floor > cap:
        return f"{name('floor')} ({floor}) cannot exceed {name('cap')} ({cap})"
    if cap is None and floor > (budget or DEFAULT_BUDGET):
        return f"{name('floor')} ({floor}) cannot exceed {name('budget')} ({budget or DEFAULT_BUDGET:g})"
    return None


def _meaning_words(meaning: Meaning, issued: bool) -> list[str]:
    """What a value means, as words of their own: ``fmt:airport``, ``unit:gallon``, ``qty:count`` and,
    for ids and other issued handles, ``of:user`` (the thing it belongs to)."""
    words = [f"fmt:{f}" for f in sorted(meaning.formats)]
    words += [f"unit:{meaning.unit}"] if meaning.unit else []
    words += [f"qty:{meaning.quantity}"] if meaning.quantity else []
    if issued:
        words += [f"of:{e}" for e in sorted(meaning.entities)]
    return words


def _field_doc(node: Node, field: SchemaField) -> list[str] | None:
    """Name words (twice: they weigh most), the tool's object words for a generic name, the
    description's first content words and the meaning words; None for outputs that only report how
    the call went."""
    if is_outcome(field.name, field.description):
        return None
    names = list(name_tokens(field.path))
    if set(name_tokens(field.path.replace("[]", "").rsplit(".", 1)[-1])) <= GENERIC:
        names += sorted(node.object)
    issued = classify_parameter(field.name, {}) == "issued"
    meaning = _meaning_words(field_meaning(field, node), issued)
    return names * 2 + list(text_tokens(field.description, limit=_DESCRIPTION_WORDS)) + meaning


def _param_doc(node: Node, param: Param) -> list[str] | None:
    names = list(name_tokens(param.name))
    if not names or set(names) <= USER_SUPPLIED:
        return None
    if set(names) <= GENERIC:
        names += sorted(node.object)
    meaning = _meaning_words(param_meaning(param, node), param.issued)
    return names * 2 + list(text_tokens(param.description, limit=_DESCRIPTION_WORDS)) + meaning


def _type(name: str) -> int:
    return _TYPES.index(name) if name in _TYPES else 0


def candidates(nodes: list[Node], config: PruneConfig | None = None) -> dict[str, list[str]]:
    """Each node's candidate targets, best first (see the module docstring)."""
    config = config or PruneConfig()
    if len({n.id for n in nodes}) != len(nodes):
        raise ValueError("node ids must be unique")
    f_docs, f_types, f_owner = [], [], []
    for i, node in enumerate(nodes):
        for f in node.outputs:
            fdoc = _field_doc(node, f)
            if fdoc is not None:
                f_docs.append(fdoc)
                f_types.append(_type(f.type))
                f_owner.append(i)
    p_docs, p_types, p_owner = [], [], []
    for i, node in enumerate(nodes):
        for p in node.params:
            doc = _param_doc(node, p)
            if doc is not None:
                p_docs.append(doc)
                p_types.append(_type(p.type))
                p_owner.append(i)
    scores_by_source: dict[int, dict[int, float]] = defaultdict(dict)
    if f_docs and p_docs:
        from sklearn.feature_extraction.text import TfidfVectorizer  # slow to import: only when pruning

        vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True)
        vectorizer.fit(f_docs + p_docs)
        fx = vectorizer.transform(f_docs).astype(np.float32)
        px = vectorizer.transform(p_docs).astype(np.float32).T.tocsc()
        f_types_a, p_types_a = np.array(f_types), np.array(p_types)
        f_owner_a, p_owner_a = np.array(f_owner), np.array(p_owner)
        targets, t_starts = np.unique(p_owner_a, return_index=True)
        codes = {sid: k for k, sid in enumerate(sorted({n.server_id for n in nodes}))}
        server_code = [codes[n.server_id] for n in nodes]
        t_server = np.array([server_code[int(t)] for t in targets])
        prerequisite_sources = {
            i for i, n in enumerate(nodes) if n.tool_class != "action" and flag_fields(n.outputs)
        }
        sources, s_starts = np.unique(f_owner_a, return_index=True)
        s_bounds = [*s_starts.tolist(), len(f_owner_a)]
        if config.budget is not None:
            chunks = (
                (
                    sources[c : c + config.chunk],
                    _coverage(fx, px, f_types_a, p_types_a, s_starts, s_bounds, t_starts, c, config.chunk),
                )
                for c in range(0, len(sources), config.chunk)
            )
            return _by_budget(nodes, targets, chunks, server_code, config)
        for c in range(0, len(sources), config.chunk):
            lo, hi = s_bounds[c], s_bounds[min(c + config.chunk, len(sources))]
            sim = (fx[lo:hi] @ px).toarray()
            sim *= _COMPAT[f_types_a[lo:hi, None], p_types_a[None, :]]
            starts = s_starts[c : c + config.chunk] - lo
            best = np.maximum.reduceat(sim, starts, axis=0)  # per source, each parameter's best field
            pair = np.add.reduceat(best, t_starts, axis=1)  # per source and target: coverage
            for row, src in enumerate(sources[c : c + config.chunk]):
                hits = np.nonzero(pair[row] > 1e-6)[0]
                hits = hits[targets[hits] != src]  # a tool is no candidate of its own
                if int(src) not in prerequisite_sources:
                    hits = _contenders(pair[row], hits, t_server, server_code[int(src)], config)
                scores_by_source[int(src)] = {int(targets[h]): float(pair[row, h]) for h in hits}
    _add_prerequisites(nodes, scores_by_source)
    result: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        scored = scores_by_source.get(i, {})
        scored.pop(i, None)
        ranked = sorted(
            scored.items(),
            key=lambda kv: (-(kv[1] + _bonus(node, nodes[kv[0]], config)), nodes[kv[0]].id),
        )
        result[node.id] = _with_floor([nodes[t] for t, _ in ranked], node, config)
    return result


def _coverage(
    fx, px, f_types: np.ndarray, p_types: np.ndarray, s_starts, s_bounds, t_starts, c: int, chunk: int
) -> np.ndarray:
    """Coverage scores of a chunk of sources (rows) against every target (columns)."""
    lo, hi = s_bounds[c], s_bounds[min(c + chunk, len(s_starts))]
    sim = (fx[lo:hi] @ px).toarray()
    sim *= _COMPAT[f_types[lo:hi, None], p_types[None, :]]
    best = np.maximum.reduceat(sim, s_starts[c : c + chunk] - lo, axis=0)
    return np.add.reduceat(best, t_starts, axis=1)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest finite scores (all finite ones when fewer)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) > k:
        finite = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    return finite


def _by_budget(
    nodes: list[Node],
    targets: np.ndarray,
    chunks,
    server_code: list[int],
    config: PruneConfig,
) -> dict[str, list[str]]:
    """The global selection (see the module docstring): per-tool floors, then the best pairs overall."""
    assert config.budget is not None
    total = int(config.budget * len(nodes))
    t_server = np.array([server_code[int(t)] for t in targets])
    categories = {c: k for k, c in enumerate(sorted({n.category or "" for n in nodes}))}
    t_category = np.array([categories[nodes[int(t)].category or ""] for t in targets])
    t_has_category = np.array([bool(nodes[int(t)].category) for t in targets])
    column = {int(t): k for k, t in enumerate(targets)}
    prerequisites: dict[int, dict[int, float]] = defaultdict(dict)
    _add_prerequisites(nodes, prerequisites)
    prerequisite_scores: dict[tuple[int, int], float] = {}
    kept_src = np.empty(0, np.int32)
    kept_col = np.empty(0, np.int32)
    kept_score = np.empty(0, np.float32)
    floor_src, floor_col, floor_score = [], [], []
    for sources, pair in chunks:
        src = sources.astype(np.int64)
        scores = np.where(pair > 1e-6, pair, -np.inf).astype(np.float32)
        prerequisite_cells = []
        for row, s in enumerate(src.tolist()):
            for t, bonus in prerequisites.get(s, {}).items():
                k = column.get(t)
                if k is not None and t != s:
                    base = pair[row, k] if pair[row, k] > 1e-6 else 0.0
                    scores[row, k] = base + bonus
                    prerequisite_cells.append((row, s, k))
        same_server = t_server[None, :] == np.array([server_code[s] for s in src])[:, None]
        src_category = np.array([categories[nodes[s].category or ""] for s in src])
        same_category = (t_category[None, :] == src_category[:, None]) & t_has_category[None, :]
        scores += config.same_server_bonus * same_server + config.same_category_bonus * same_category
        scores[targets[None, :] == src[:, None]] = -np.inf  # a tool is no candidate of its own
        for row, s, k in prerequisite_cells:
            prerequisite_scores[(s, k)] = float(scores[row, k])
        if config.floor:
            cross = np.where(same_server, -np.inf, scores)
            k = min(config.floor, cross.shape[1])
            best = np.argpartition(-cross, k - 1, axis=1)[:, :k]
            rows = np.repeat(np.arange(len(src)), k)
            values = cross[rows, best.ravel()]
            ok = np.isfinite(values)
            floor_src.append(src[rows[ok]].astype(np.int32))
            floor_col.append(best.ravel()[ok].astype(np.int32))
            floor_score.append(values[ok])
        flat = scores.ravel()
        top = _top(flat, total)
        kept_src = np.concatenate([kept_src, src[top // scores.shape[1]].astype(np.int32)])
        kept_col = np.concatenate([kept_col, (top % scores.shape[1]).astype(np.int32)])
        kept_score = np.concatenate([kept_score, flat[top]])
        if len(kept_score) > total:
            keep = _top(kept_score, total)
            kept_src, kept_col, kept_score = kept_src[keep], kept_col[keep], kept_score[keep]
    # (source, target) by node index -> score. Prerequisite pairs are kept whatever their rank, as a
    # cap keeps them, also those the chunks never scored (a source with no output documents, a target
    # with no parameter documents): their score is their bonus.
    chosen: dict[tuple[int, int], float] = {
        (s, int(targets[k])): v for (s, k), v in prerequisite_scores.items()
    }
    for s, ts in prerequisites.items():
        for t, bonus in ts.items():
            if t != s:
                chosen.setdefault((s, t), bonus + _bonus(nodes[s], nodes[t], config))
    if floor_src:
        for s, k, v in zip(
            np.concatenate(floor_src).tolist(),
            np.concatenate(floor_col).tolist(),
            np.concatenate(floor_score).tolist(),
            strict=True,
        ):
            chosen[(s, int(targets[k]))] = v
    order = np.lexsort((kept_col, kept_src, -kept_score))
    for i in order.tolist():
        if len(chosen) >= total:
            break
        chosen.setdefault((int(kept_src[i]), int(targets[kept_col[i]])), float(kept_score[i]))
    ranked: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for (s, t), v in chosen.items():
        ranked[s].append((-v, nodes[t].id))
    return {node.id: [t for _, t in sorted(ranked.get(i, []))] for i, node in enumerate(nodes)}


def _contenders(
    row: np.ndarray, hits: np.ndarray, t_server: np.ndarray, server: int, config: PruneConfig
) -> np.ndarray:
    """The hits that can still make a tool's list: those within the largest bonus of the ``cap``-th
    best score, and the other-server ones within the category bonus of the ``floor``-th best of them
    (the rest are beaten whatever their bonus), so that building the ranking stays cheap."""
    if len(hits) <= config.cap:
        return hits
    values = row[hits]
    kth = np.partition(values, -config.cap)[-config.cap]
    keep = values >= kth - (config.same_server_bonus + config.same_category_bonus)
    if config.floor:
        cross = t_server[hits] != server
        cross_values = values[cross]
        if len(cross_values) > config.floor:
            kth_cross = np.partition(cross_values, -config.floor)[-config.floor]
            keep |= cross & (values >= kth_cross - config.same_category_bonus)
        else:
            keep |= cross
    return hits[keep]


def _bonus(source: Node, target: Node, config: PruneConfig) -> float:
    bonus = config.same_server_bonus if source.server_id == target.server_id else 0.0
    if source.category and source.category == target.category:
        bonus += config.same_category_bonus
    return bonus


def _with_floor(ranked: list[Node], source: Node, config: PruneConfig) -> list[str]:
    """The best ``cap``, swapping the weakest same-server ones for the best other-server ones until
    at least ``floor`` candidates come from other servers (when there are that many)."""
    top = ranked[: config.cap]
    cross = [n for n in top if n.server_id != source.server_id]
    if len(cross) < config.floor:
        extra = [n for n in ranked[config.cap :] if n.server_id != source.server_id][
            : config.floor - len(cross)
        ]
        if extra:
            same = [n for n in top if n.server_id == source.server_id]
            keep_same = same[: max(0, config.cap - len(cross) - len(extra))]
            kept = {n.id for n in keep_same + cross + extra}
            top = [n for n in ranked if n.id in kept]
    return [n.id for n in top]


def _add_prerequisites(nodes: list[Node], scores: dict[int, dict[int, float]]) -> None:
    by_object: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(nodes):
        if node.tool_class in ("action", "query"):
            for word in node.object - GENERIC:
                by_object[word].append(i)
    for i, node in enumerate(nodes):
        if node.tool_class == "action" or not flag_fields(node.outputs):
            continue
        for word in node.object - GENERIC - FLAGS:
            for t in by_object.get(word, []):
                scores[i][t] = scores[i].get(t, 0.0) + 0.5
