"""The edge judge's precision and recall on hand-labelled TOUCAN dependencies (benchmarks/data).

    python benchmarks/judge_labels.py [CATALOG] [--labels benchmarks/data/dependency_labels.json] [--json]

The labelled servers are imported from the TOUCAN folder and annotated offline; each labelled pair
(source -> target, true or false, name-match traps marked) is judged twice: by the offline judge on the
nodes, and by the teacher prompt through an OpenAI-compatible fake server on 127.0.0.1 whose "model"
reads only the rendered prompt (the tools, fields and parameters it shows) and answers with the offline
rules, so the figure says whether the prompt carries what a judge needs, and the answers pass the
task's validation (a partial edge must fill a required input). A pair is predicted a dependency when
the judge gives any edge type but ``none``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "data" / "toucan" / "mcp_servers"
LABELS = Path(__file__).resolve().parent / "data" / "dependency_labels.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.catalog.exists():
        sys.exit(f"no catalog at {args.catalog}; pass the TOUCAN mcp_servers folder")
    labels = json.loads(args.labels.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(args.catalog, labels, Path(tmp))
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    print(
        f"{len(labels['tools'])} tools, {len(labels['pairs'])} labelled pairs "
        f"({sum(p['label'] for p in labels['pairs'])} true, {sum(p['trap'] for p in labels['pairs'])} traps)"
    )
    for judge, f in figures["judges"].items():
        print(
            f"{judge:>16}: precision {f['precision']:.2%}, recall {f['recall']:.2%}, "
            f"traps linked {f['traps_linked']}/{f['traps']}, tp {f['tp']} fp {f['fp']} fn {f['fn']}"
        )
        for line in f["false_positives"][:8]:
            print(f"{'':>18}fp {line}")
        for line in f["false_negatives"][:8]:
            print(f"{'':>18}fn {line}")


def nodes_for(catalog: Path, servers: set[str], workspace: Path) -> dict[str, Any]:
    from graph_toucan.annotate import annotate_tools
    from graph_toucan.catalog import CatalogEntry, import_entries, read_catalog
    from graph_toucan.graph import filtered_outputs
    from graph_toucan.judge import Node
    from graph_toucan.llm import LLM, OfflineBackend
    from graph_toucan.store import Store

    store = Store.open(workspace)
    entries = (e for e in read_catalog(catalog) if isinstance(e, CatalogEntry) and e.server.name in servers)
    import_entries(store, entries)
    llm = LLM(OfflineBackend(), store)
    asyncio.run(annotate_tools(store, llm))
    nodes = {}
    for tool in store.tools():
        if tool.tool_class and tool.output_schema:
            _, outputs, _ = asyncio.run(filtered_outputs(tool, llm))
            nodes[tool.ref] = Node.of(tool, outputs)
    return {"store": store, "nodes": nodes}


def run(catalog: Path, labels: dict[str, Any], workspace: Path) -> dict[str, Any]:
    from graph_toucan.judge import judge_nodes

    built = nodes_for(catalog, set(labels["servers"]), workspace)
    nodes = built["nodes"]
    missing = sorted({r for p in labels["pairs"] for r in (p["source"], p["target"])} - set(nodes))
    pairs = [p for p in labels["pairs"] if p["source"] in nodes and p["target"] in nodes]
    offline = {
        (p["source"], p["target"]): judge_nodes(nodes[p["source"]], nodes[p["target"]]).type for p in pairs
    }
    prompt = asyncio.run(_judge_by_prompt(built["store"], nodes, pairs))
    return {
        "tools_labelled": len(labels["tools"]),
        "tools_without_node": missing,
        "pairs": len(pairs),
        "judges": {"offline": score(pairs, offline), "teacher prompt": score(pairs, prompt)},
    }


def score(pairs: list[dict[str, Any]], answers: dict[tuple[str, str], str]) -> dict[str, Any]:
    tp = [p for p in pairs if p["label"] and answers[p["source"], p["target"]] != "none"]
    fp = [p for p in pairs if not p["label"] and answers[p["source"], p["target"]] != "none"]
    fn = [p for p in pairs if p["label"] and answers[p["source"], p["target"]] == "none"]
    traps = [p for p in pairs if p["trap"]]
    return {
        "precision": len(tp) / max(len(tp) + len(fp), 1),
        "recall": len(tp) / max(len(tp) + len(fn), 1),
        "tp": len(tp),
        "fp": len(fp),
        "fn": len(fn),
        "traps": len(traps),
        "traps_linked": sum(1 for p in traps if answers[p["source"], p["target"]] != "none"),
        "false_positives": [f"{p['source']} -> {p['target']}: {p['why']}" for p in fp],
        "false_negatives": [f"{p['source']} -> {p['target']}: {p['why']}" for p in fn],
    }


async def _judge_by_prompt(store: Any, nodes: dict[str, Any], pairs: list[dict[str, Any]]) -> dict:
    from graph_toucan.errors import LLMError
    from graph_toucan.judge import EDGE_JUDGE, edge_inputs
    from graph_toucan.llm import LLM
    from graph_toucan.llm.backends import OpenAIBackend
    from tests.fakes import Reply, fake_llm_server
    from tests.prompt_judge import answer_from_prompt

    answers = {}
    with fake_llm_server() as fake:
        fake.default = lambda body: Reply(answer_from_prompt(_user_text(body)))
        llm = LLM(OpenAIBackend("fake-judge", api_key="fake", base_url=f"{fake.url}/v1", timeout=30), store)
        for p in pairs:
            try:
                answer = await llm.run(EDGE_JUDGE, edge_inputs(nodes[p["source"]], nodes[p["target"]]))
                answers[p["source"], p["target"]] = answer.type
            except LLMError:
                answers[p["source"], p["target"]] = "none"
    return answers


def _user_text(body: dict[str, Any]) -> str:
    message = [m for m in body["messages"] if m["role"] == "user"][-1]
    content = message["content"]
    return content if isinstance(content, str) else "".join(c.get("text", "") for c in content)


if __name__ == "__main__":
    main()
