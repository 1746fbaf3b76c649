"""A stand-in teacher for the edge judge that reads only the rendered prompt.

:func:`answer_from_prompt` parses what ``prompts/edge_judge.md`` shows (the two tools, the source's inputs
and outputs, the target's inputs with their required and issued marks, the shared preamble) and answers
with the offline rules. Served by the fake OpenAI-compatible server (``tests/fakes.py``), it checks that the
prompt carries everything a judge needs and that its answers pass the task's validation.
"""

from __future__ import annotations

import re
from typing import Any

_TOOL = re.compile(r"^(Source|Target) tool `([^`]+)` \(([^)]*)\): ?(.*)$")
_ITEM = re.compile(r"^- (\S+) \(([^)]*)\): ?(.*)$")


def answer_from_prompt(prompt: str) -> str:
    """What the fake model answers: the offline rules over what the prompt shows, and nothing else."""
    from graph_toucan.judge import offline_edge

    views: dict[str, dict[str, Any]] = {}
    preamble = ""
    side = section = None
    for line in prompt.splitlines():
        if line.startswith("Both tools' descriptions begin: "):
            preamble = line.split(": ", 1)[1] + " "
        tool = _TOOL.match(line)
        if tool:
            side = tool.group(1).lower()
            views[side] = {
                "ref": tool.group(2),
                "tool_class": tool.group(3),
                "description": preamble + tool.group(4),
                "inputs": [],
                "outputs": [],
            }
            section = None
        elif line.startswith(("It is called with", "Its input parameters")):
            section = "inputs"
        elif line.startswith("Its output fields"):
            section = "outputs"
        elif line.startswith("Answer with"):
            break
        elif side and section and (item := _ITEM.match(line)):
            kind, *flags = [w.strip() for w in item.group(2).split(",")]
            if section == "outputs":
                views[side]["outputs"].append(
                    {"path": item.group(1), "type": kind, "description": item.group(3)}
                )
            else:
                views[side]["inputs"].append(
                    {
                        "name": item.group(1),
                        "type": kind,
                        "description": item.group(3),
                        "required": "required" in flags,
                        "issued": "issued by a system" in flags,
                    }
                )
    answer = offline_edge({"source": views["source"], "target": views["target"]})
    return answer.model_dump_json()
