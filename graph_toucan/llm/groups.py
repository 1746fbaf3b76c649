"""Task groups: which teacher answers which task when a stage teacher option (`--teacher-translate`) overrides the default."""

from __future__ import annotations

# The groups a teacher can be chosen for, with the tasks of each (``query_*`` are the translation's
# back-translation tasks, one per turn type). Preference pairs are built by rule and ask no teacher.
GROUPS: dict[str, tuple[str, ...]] = {
    "annotate": ("tool_tags", "tool_class", "parameter_classes", "output_schema"),
    "judge": ("output_filter", "edge_judge"),
    "mocks": ("mock_code",),
    "values": ("mock_values",),
    "translate": ("query_*", "fill_arguments", "assistant_answer", "request_judge"),
    "refusal": ("refusal_rewrite", "refusal_supply", "irrelevance"),
}


def task_group(task: str) -> str:
    """The group of a task name; a task of no group (a test's own) belongs to ``translate``."""
    for group, tasks in GROUPS.items():
        if task in tasks or (task.startswith("query_") and "query_*" in tasks):
            return group
    return "translate"
