"""The statistics report of a workspace's conversations (docs/method.md section 9): totals, single- vs multi-turn,
refusal shares, turns, steps and calls, dependency and turn types, tool and server coverage, verification
pass rates, rejection reasons and the teacher's calls, tokens and cost per accepted conversation.

Figures are computed per sampler, so a workspace holding graph and random-baseline data compares them side
by side; MAGNET's and TOUCAN's published figures are reference rows (only figures they state; no estimates).
Library functions only: the CLI and the MCP server print or return what :func:`compute_stats` gives.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_toucan.atomic import replacing, write_atomic
from graph_toucan.errors import GraphToucanError
from graph_toucan.path_stats import counts, distribution, share
from graph_toucan.records import Conversation
from graph_toucan.store import CALL_COUNTS, Store

SAMPLER_LABELS = {"graph": "graph sampler", "random": "random baseline"}

# Published figures: MAGNET (multi-turn samples: turns and calls, docs/method.md section 9); TOUCAN's dataset card
# (Agent-Ark/Toucan-1.5M: 1.5M trajectories from 495 MCP servers, 2,000+ tools). Empty where not published.
# BFCL v3 multi_turn_base: counted from its public ground truth (200 conversations).
REFERENCES: dict[str, dict[str, str]] = {
    "MAGNET (published)": {"turns_multi": "4.71", "calls_multi": "15.13"},
    "BFCL v3 multi_turn_base (ground truth)": {
        "turns_multi": "3.71",
        "calls_multi": "5.74",
        "calls_per_turn": "1.56",
        "multi_call_turn_share": "35-40%",
    },
    "TOUCAN-1.5M (published)": {"conversations": "1.5M", "tools_used": "2,000+", "servers_used": "495"},
}

COMPARISON_COLUMNS = [
    ("conversations", "conversations"),
    ("multi_turn_share", "multi-turn share"),
    ("refusal_share", "refusal share"),
    ("turns", "turns / conv."),
    ("turns_multi", "turns / multi-turn conv."),
    ("calls_per_conversation", "calls / conv."),
    ("calls_multi", "calls / multi-turn conv."),
    ("steps_per_turn", "steps / turn"),
    ("calls_per_turn", "calls / turn"),
    ("multi_call_turn_share", "turns with 2+ calls"),
    ("tools_used", "tools"),
    ("servers_used", "servers"),
]

FIGURE_ROWS = [
    ("conversations", "accepted conversations"),
    ("rejected", "rejected conversations"),
    ("acceptance_rate", "acceptance rate"),
    ("single_turn", "single-turn"),
    ("multi_turn", "multi-turn"),
    ("refusal_share", "refusal share"),
    ("turns", "turns per conversation"),
    ("turns_multi", "turns per multi-turn conversation"),
    ("steps_per_turn", "steps per turn"),
    ("calls_per_turn", "calls per turn"),
    ("calls_per_conversation", "calls per conversation"),
    ("calls_multi", "calls per multi-turn conversation"),
    ("parallel_step_share", "steps with parallel calls"),
    ("multi_call_turn_share", "turns with 2+ calls"),
    ("dependencies_per_conversation", "dependencies per conversation"),
    ("tools_used", "tools used"),
    ("tool_coverage", "tool coverage"),
    ("servers_used", "servers used"),
    ("server_coverage", "server coverage"),
    ("llm_calls_per_accepted", "teacher calls per accepted (translation)"),
    ("retried_turns", "turns retried after a failed check or answer"),
]

GROUPS = [
    ("kinds", "kind"),
    ("turn_types", "turn type"),
    ("dependency_types", "dependency type"),
    ("checks", "check pass rate"),
    ("rejection_reasons", "rejected by"),
    ("retried_for", "turn retried for"),
]


class ConversationStats:
    """Accumulates conversations of one sampler one at a time (a workspace is never held in memory)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.rejected = 0
        self.kinds: Counter[str] = Counter()
        self.turns: Counter[int] = Counter()
        self.turns_multi: Counter[int] = Counter()
        self.steps_per_turn: Counter[int] = Counter()
        self.calls_per_turn: Counter[int] = Counter()
        self.calls_per_conversation: Counter[int] = Counter()
        self.calls_multi: Counter[int] = Counter()
        self.parallel_steps = 0
        self.steps = 0
        self.turn_types: Counter[str] = Counter()
        self.dependency_types: Counter[str] = Counter()
        self.tools: set[str] = set()
        self.checks_passed: Counter[str] = Counter()
        self.checks_total: Counter[str] = Counter()
        self.rejection_reasons: Counter[str] = Counter()
        self.llm_calls = 0
        self.turns_seen = 0
        self.retried_turns = 0
        self.retried_for: Counter[str] = Counter()

    def add(self, conversation: Conversation) -> None:
        """Count one conversation: checks and teacher calls for every one, the rest for accepted ones."""
        c = conversation
        self.llm_calls += c.llm_calls
        for turn in c.turns:  # check failures a retry fixed count too, not only those that remain
            self.turns_seen += 1
            self.retried_turns += turn.attempts > 1
            self.retried_for.update(turn.retried_for)
        for check in c.checks:
            self.checks_total[check.name] += 1
            self.checks_passed[check.name] += check.passed
        if c.status != "accepted":
            self.rejected += 1
            self.rejection_reasons.update({reason_key(r) for r in c.reasons} or {"unknown"})
            return
        self.accepted += 1
        self.kinds[c.kind] += 1
        n_turns, n_calls = len(c.turns), len(c.calls)
        self.turns[n_turns] += 1
        self.calls_per_conversation[n_calls] += 1
        if n_turns > 1:
            self.turns_multi[n_turns] += 1
            self.calls_multi[n_calls] += 1
        for turn in c.turns:
            self.turn_types[turn.type] += 1
            self.steps_per_turn[len(turn.steps)] += 1
            self.calls_per_turn[len(turn.calls)] += 1
            self.steps += len(turn.steps)
            self.parallel_steps += sum(len(step) > 1 for step in turn.steps)
        self.dependency_types.update(d.type for d in c.dependencies)
        self.tools.update(call.tool_id for call in c.calls)

    def as_dict(
        self,
        *,
        tool_servers: dict[str, str] | None = None,
        tools_total: int | None = None,
        servers_total: int | None = None,
    ) -> dict[str, Any]:
        """JSON-ready figures; servers come from ``tool_servers`` (tool id -> server id) when given."""
        n = self.accepted
        servers = {tool_servers.get(t, t) for t in self.tools} if tool_servers else set()
        multi = sum(self.turns_multi.values())
        out: dict[str, Any] = {
            "conversations": n,
            "rejected": self.rejected,
            "acceptance_rate": share(n, n + self.rejected),
            "single_turn": {"count": n - multi, "share": share(n - multi, n)},
            "multi_turn": {"count": multi, "share": share(multi, n)},
            "multi_turn_share": share(multi, n),
            "refusal_share": share(n - self.kinds.get("translation", 0), n),
            "kinds": counts(self.kinds, n),
            "turns": distribution(self.turns),
            "turns_multi": distribution(self.turns_multi),
            "steps_per_turn": distribution(self.steps_per_turn),
            "calls_per_turn": distribution(self.calls_per_turn),
            "calls_per_conversation": distribution(self.calls_per_conversation),
            "calls_multi": distribution(self.calls_multi),
            "parallel_step_share": share(self.parallel_steps, self.steps),
            "multi_call_turn_share": share(
                sum(v for k, v in self.calls_per_turn.items() if k >= 2), sum(self.calls_per_turn.values())
            ),
            "turn_types": counts(self.turn_types, sum(self.turn_types.values())),
            "dependency_types": counts(self.dependency_types, sum(self.dependency_types.values())),
            "dependencies_per_conversation": round(sum(self.dependency_types.values()) / n, 3) if n else 0.0,
            "tools_used": len(self.tools),
            "servers_used": len(servers),
            "checks": {
                name: {
                    "passed": self.checks_passed[name],
                    "total": total,
                    "share": share(self.checks_passed[name], total),
                }
                for name, total in sorted(self.checks_total.items())
            },
            "rejection_reasons": counts(Counter(dict(self.rejection_reasons.most_common(10))), self.rejected),
            "llm_calls_per_accepted": round(self.llm_calls / n, 3) if n else 0.0,
            "retried_turns": {
                "count": self.retried_turns,
                "share": share(self.retried_turns, self.turns_seen),
            },
            "retried_for": counts(self.retried_for, sum(self.retried_for.values())),
        }
        if tools_total:
            out["tool_coverage"] = share(len(self.tools), tools_total)
        if servers_total and tool_servers:
            out["server_coverage"] = share(len(servers), servers_total)
        return out


def reason_key(reason: str) -> str:
    """What a rejection reason names: ``turn 2: arguments_valid: ...`` -> ``arguments_valid``."""
    text = re.sub(r"^turn \d+:\s*", "", reason.strip())
    return text.split(":", 1)[0].strip()[:60] or "unknown"


@dataclass
class StatsReport:
    """Figures per sampler, the teacher's call log and the workspace's tool and server totals."""

    workspace: str
    columns: dict[str, dict[str, Any]]
    call_log: dict[str, Any]
    tools_total: int
    servers_total: int
    teacher: str | None = None
    references: dict[str, dict[str, str]] = field(default_factory=lambda: dict(REFERENCES))

    def as_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "teacher": self.teacher,
            "tools_total": self.tools_total,
            "servers_total": self.servers_total,
            "samplers": self.columns,
            "call_log": self.call_log,
            "references": self.references,
        }


def compute_stats(
    store: Store, *, teacher: str | None = None, conversations: Iterable[Conversation] | None = None
) -> StatsReport:
    """Statistics of the stored conversations (accepted and rejected; optionally one teacher's), one column
    per sampler present. ``conversations`` replaces the store's when given (e.g. an export's selection)."""
    tool_servers = {i: server for i, (server, _) in store.tool_origins().items()}
    tools_total, servers_total = len(tool_servers), store.count("servers")
    per_sampler: dict[str, ConversationStats] = {}
    source = store.conversations(teacher=teacher) if conversations is None else conversations
    for conversation in source:
        per_sampler.setdefault(conversation.sampler, ConversationStats()).add(conversation)
    if not per_sampler:
        raise GraphToucanError(
            "no conversations stored"
            + (f" for teacher {teacher!r}" if teacher else "")
            + "; run 'graph-toucan run --n 100' first"
        )
    order = [s for s in SAMPLER_LABELS if s in per_sampler] + sorted(set(per_sampler) - set(SAMPLER_LABELS))
    columns = {
        s: per_sampler[s].as_dict(
            tool_servers=tool_servers, tools_total=tools_total, servers_total=servers_total
        )
        for s in order
    }
    accepted = sum(c["conversations"] for c in columns.values())
    return StatsReport(
        workspace=str(store.workspace),
        columns=columns,
        call_log=call_log_figures(store.call_stats(), accepted),
        tools_total=tools_total,
        servers_total=servers_total,
        teacher=teacher,
    )


def call_log_figures(rows: list[dict[str, Any]], accepted: int) -> dict[str, Any]:
    """Totals of the call log (every task, every stage) and those totals per accepted conversation."""
    keys = (*CALL_COUNTS, "cost_usd")
    total = {k: sum(r.get(k) or 0 for r in rows) for k in keys}
    total["cost_usd"] = round(total["cost_usd"], 6)
    per = {k: round(total[k] / accepted, 6 if k == "cost_usd" else 2) if accepted else 0.0 for k in keys}
    return {"total": total, "per_accepted": per, "by_task": rows}


# -- rendering --------------------------------------------------------------------------------------------


def cell(figures: dict[str, Any], key: str, missing: str = "") -> str:
    """One figure as table text: distributions as ``mean (min-max)``, counts as ``n (share)``."""
    value = figures.get(key)
    if value is None:
        return missing
    if isinstance(value, dict) and "mean" in value:
        return f"{value['mean']:.2f} ({value['min']}-{value['max']})" if value["histogram"] else missing
    if isinstance(value, dict) and "count" in value:
        return f"{value['count']} ({value['share']:.1%})"
    if isinstance(value, dict) and "passed" in value:
        return f"{value['share']:.1%} ({value['passed']}/{value['total']})"
    if isinstance(value, float) and key.endswith(("share", "rate", "coverage")):
        return f"{value:.1%}"
    return str(value)


def _mean(figures: dict[str, Any], key: str) -> str:
    value = figures.get(key)
    if isinstance(value, dict) and "mean" in value:
        return f"{value['mean']:.2f}" if value["histogram"] else ""
    return cell(figures, key)


def comparison_rows(report: StatsReport) -> list[tuple[str, list[str]]]:
    """The paper-style comparison: one row per sampler of this workspace, then the published references."""
    rows = [
        (f"graph-toucan, {SAMPLER_LABELS.get(s, s)}", [_mean(f, key) for key, _ in COMPARISON_COLUMNS])
        for s, f in report.columns.items()
    ]
    rows += [
        (name, [ref.get(key, "") for key, _ in COMPARISON_COLUMNS]) for name, ref in report.references.items()
    ]
    return rows


def figure_rows(report: StatsReport) -> list[tuple[str, list[str]]]:
    """Every figure, one row each, one column per sampler (groups expanded one row per key)."""
    cols = list(report.columns.values())
    rows = [(label, [cell(f, key) for f in cols]) for key, label in FIGURE_ROWS]
    for group, label in GROUPS:
        keys = sorted({k for f in cols for k in f[group]})
        if group == "rejection_reasons":
            keys.sort(key=lambda k: -sum(f[group].get(k, {}).get("count", 0) for f in cols))
        rows += [(f"{label}: {k}", [cell(f[group], k, "-") for f in cols]) for k in keys]
    return rows


def _table(header: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(x) for x in [name, *values]) + " |" for name, values in rows]
    return lines


def stats_markdown(report: StatsReport, *, images: str | None = None, level: int = 1) -> str:
    """The report as Markdown; ``images`` is the folder (relative to the Markdown file) holding the plots."""
    h = "#" * level
    scope = f" (teacher {report.teacher})" if report.teacher else ""
    lines = [
        f"{h} Dataset statistics{scope}",
        "",
        f"Accepted conversations form the dataset; rejected ones count in the acceptance and check rates. "
        f"The workspace offers {report.tools_total} tools on {report.servers_total} servers. Distributions "
        "read `mean (min-max)`; reference rows hold only published figures.",
        "",
        f"{h}# Comparison",
        "",
        *_table(["dataset", *(label for _, label in COMPARISON_COLUMNS)], comparison_rows(report)),
        "",
        f"{h}# Figures by sampler",
        "",
        *_table(["figure", *(SAMPLER_LABELS.get(s, s) for s in report.columns)], figure_rows(report)),
        "",
        f"{h}# Teacher calls (call log, all stages)",
        "",
    ]
    log = report.call_log
    task_rows = [
        (
            f"{r['task']} ({r['model']})",
            [str(r.get(k) or 0) for k in CALL_COUNTS] + [f"{r['cost_usd'] or 0:.4f}"],
        )
        for r in log["by_task"]
    ]
    t, p = log["total"], log["per_accepted"]
    task_rows.append(("total", [str(t[k]) for k in CALL_COUNTS] + [f"{t['cost_usd']:.4f}"]))
    task_rows.append(
        ("per accepted conversation", [str(p[k]) for k in CALL_COUNTS] + [f"{p['cost_usd']:.6f}"])
    )
    lines += _table(["task", *(k.replace("_", " ") for k in CALL_COUNTS), "cost USD"], task_rows)
    lines += [
        "",
        "Retries follow a transient failure (rate limit, 5xx, timeout); parse failures are answers sent "
        "back with the problem; failures are calls given up; fallbacks are refusals of structured output "
        "(the teacher then gets the schema in the prompt).",
    ]
    if any(r["backend"] == "offline" for r in log["by_task"]):
        lines += [
            "",
            "The offline teacher does not log the cheap tasks it answers by rule and whose results are "
            "stored anyway (edge judgements, translation and refusal steps): the run summary's teacher "
            "calls count them, this table does not.",
        ]
    if images is not None:
        prefix = f"{images.rstrip('/')}/" if images else ""
        lines += ["", f"{h}# Distributions", ""]
        lines += [f"![{title}]({prefix}{name}.png)" for name, title in PLOTS]
    return "\n".join(lines) + "\n"


PLOTS = [
    ("turns", "turns per conversation"),
    ("calls_per_conversation", "calls per conversation"),
    ("turn_types", "turn types"),
    ("dependency_types", "dependency types"),
]


def stats_plots(report: StatsReport, out: Path) -> list[Path]:
    """One PNG per distribution in ``out``, samplers side by side as grouped bars of shares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, title in PLOTS:
        series, counts, totals = {}, {}, {}
        for sampler, figures in report.columns.items():
            data = figures[key]
            if "histogram" in data:
                counts[sampler] = dict(data["histogram"])
                total = sum(counts[sampler].values()) or 1
                series[sampler] = {k: v / total for k, v in counts[sampler].items()}
            else:
                series[sampler] = {k: v["share"] for k, v in data.items()}
                counts[sampler] = {k: v["count"] for k, v in data.items()}
            totals[sampler] = figures.get("conversations", sum(counts[sampler].values()))
        keys = sorted(
            {k for s in series.values() for k in s},
            key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k),
        )
        fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(keys) + 2), 3.6), dpi=100)
        width = 0.8 / max(1, len(series))
        for i, (sampler, shares) in enumerate(series.items()):
            xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(keys))]
            label = f"{SAMPLER_LABELS.get(sampler, sampler)} ({totals[sampler]} conversations)"
            bars = ax.bar(xs, [shares.get(k, 0.0) for k in keys], width, label=label)
            ax.bar_label(bars, [str(counts[sampler].get(k, 0)) for k in keys], fontsize=7, padding=1)
        ax.set_xticks(range(len(keys)), keys, rotation=30 if not all(k.isdigit() for k in keys) else 0)
        ax.set_ylabel("share (bars labelled with counts)")
        ax.set_title(title)
        ax.margins(y=0.12)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{key}.png"
        with replacing(path) as tmp:
            fig.savefig(tmp, format="png", metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


def write_stats(report: StatsReport, out: Path) -> dict[str, Path]:
    """Write ``stats.md``, ``stats.json`` and the PNG plots into ``out``; returns the paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {p.stem: p for p in stats_plots(report, out)}
    paths["markdown"] = out / "stats.md"
    write_atomic(paths["markdown"], stats_markdown(report, images=""))
    paths["json"] = out / "stats.json"
    write_atomic(paths["json"], json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    return paths
