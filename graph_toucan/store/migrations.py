"""The workspace schema: one function per version, applied in order (``PRAGMA user_version`` counts them)."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _migration_1(db: sqlite_utils.Database) -> None:
    db["servers"].create(
        {
            "id": str,
            "name": str,
            "qualified_name": str,
            "source": str,
            "status": str,
            "overview": str,
            "primary_label": str,
            "secondary_labels": str,
            "custom_label": str,
            "usage_rank": int,
            "usage_count": int,
            "license": str,
            "homepage": str,
            "repository_url": str,
        },
        pk="id",
    )
    db["tools"].create(
        {
            "id": str,
            "server_id": str,
            "server_name": str,
            "name": str,
            "description": str,
            "input_schema": str,
            "output_schema": str,
            "tags": str,
            "tool_class": str,
            "category": str,
            "source": str,
            "license": str,
            "read_only": int,
            "digest": str,
            "updated_at": float,
        },
        pk="id",
        foreign_keys=[("server_id", "servers", "id")],
    )
    db["tools"].create_index(["server_id"])
    db["tools"].create_index(["name"])
    db["tools"].enable_fts(["name", "description", "server_name"], create_triggers=True, tokenize="porter")
    db["tool_examples"].create(
        {
            "id": str,
            "tool_id": str,
            "arguments": str,
            "result": str,
            "structured": str,
            "is_error": int,
            "error": str,
            "latency_s": float,
            "created_at": float,
        },
        pk="id",
    )
    db["tool_examples"].create_index(["tool_id"])
    db["llm_calls"].create(
        {
            "id": int,
            "key": str,
            "task": str,
            "backend": str,
            "model": str,
            "request": str,
            "response": str,
            "input_tokens": int,
            "output_tokens": int,
            "latency_s": float,
            "cost_usd": float,
            "error": str,
            "run_id": str,
            "created_at": float,
        },
        pk="id",
    )
    db["llm_calls"].create_index(["key"])
    db["runs"].create(
        {"id": str, "command": str, "started_at": float, "finished_at": float, "status": str, "summary": str},
        pk="id",
    )


def _migration_2(db: sqlite_utils.Database) -> None:
    """Edge judgements of the dependency graph (issue 3)."""
    db["judgements"].create(
        {
            "id": str,
            "key": str,
            "source_id": str,
            "target_id": str,
            "type": str,
            "mapping": str,
            "reason": str,
            "judge": str,
            "error": str,
            "created_at": float,
        },
        pk="id",
    )
    db["judgements"].create_index(["source_id"])
    db["judgements"].create_index(["target_id"])


def _migration_3(db: sqlite_utils.Database) -> None:
    """Generated mock tools (issue 5): one row per tool and build key; ``tool`` is the Tool record as
    JSON, so a mock can be served without the tools table."""
    db["mocks"].create(
        {
            "id": str,
            "tool_id": str,
            "tool_ref": str,
            "key": str,
            "status": str,
            "code": str,
            "error": str,
            "attempts": int,
            "teacher": str,
            "tool": str,
            "created_at": float,
        },
        pk="id",
    )
    db["mocks"].create_index(["tool_id", "created_at"])
    db["mocks"].create_index(["tool_ref"])


def _migration_4(db: sqlite_utils.Database) -> None:
    """Planned function signature paths (issue 4); ``position`` is the path's place in its seed's stream."""
    db["paths"].create(
        {
            "id": str,
            "sampler": str,
            "seed": int,
            "position": int,
            "n_turns": int,
            "n_calls": int,
            "data": str,
            "run_id": str,
            "created_at": float,
        },
        pk="id",
    )
    db["paths"].create_index(["sampler", "seed", "position"])


def _migration_5(db: sqlite_utils.Database) -> None:
    """Conversations (accepted and rejected, refusal variants) and preference pairs (issue 6)."""
    db["conversations"].create(
        {
            "id": str,
            "path_id": str,
            "kind": str,
            "source_id": str,
            "sampler": str,
            "seed": int,
            "position": int,
            "teacher": str,
            "status": str,
            "n_turns": int,
            "n_calls": int,
            "data": str,
            "run_id": str,
            "created_at": float,
        },
        pk="id",
    )
    db["conversations"].create_index(["status", "kind"])
    db["conversations"].create_index(["path_id"])
    db["pairs"].create(
        {"id": str, "conversation_id": str, "kind": str, "data": str, "created_at": float},
        pk="id",
    )
    db["pairs"].create_index(["conversation_id"])


def _migration_6(db: sqlite_utils.Database) -> None:
    """Tools: the class of each input parameter (user or issued; issue 13)."""
    db["tools"].add_column("parameter_classes", str)


def _migration_7(db: sqlite_utils.Database) -> None:
    """The tool sets a random baseline stream has drawn, numbered in draw order (``tools``: the ids,
    sorted, space-separated), so the stream resumes from its cursor without drawing them again."""
    db["stream_draws"].create({"stream": str, "number": int, "tools": str}, pk=("stream", "number"))


def _migration_8(db: sqlite_utils.Database) -> None:
    """Keys of mock code that passed the sandbox's allow-list check (``policy.check_key``: the code's
    hash under the rules' digest), so a later run does not parse the same code again."""
    db["mock_checks"].create({"key": str}, pk="key")


def _migration_9(db: sqlite_utils.Database) -> None:
    """An index in sample-stream order, so the stages that read every conversation in that order walk
    it instead of sorting all the matching rows, data and all (about 1 GB at 20,000 conversations)."""
    db["conversations"].create_index(["sampler", "seed", "position", "kind", "id"], if_not_exists=True)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
    _migration_9,
]
