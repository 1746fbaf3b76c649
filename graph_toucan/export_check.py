"""Check an export the way a trainer reads it, offline: render rows through the chat templates TRL ships
(``trl/chat_templates/*.jinja``) with a tokenizer built locally, and run two steps of TRL's ``SFTTrainer`` and
``DPOTrainer`` on a tiny randomly initialised model built in code. Nothing is downloaded.

Needs the ``train`` extra (``pip install 'graph-toucan[train]'``: trl, transformers, torch, datasets).

A render *passes* when the template raises nothing and the text holds every user message, every tool
result, and every call's arguments as the JSON object a model must learn to write (never a quoted JSON
string, the double encoding a string ``arguments`` gets from templates that apply ``tojson``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from graph_toucan.errors import GraphToucanError

CHATML = (  # the plain ChatML template that Hermes 2 Pro and Hermes 3 models ship, for the hermes format
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
_SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|<｜[^｜<>]{1,40}｜>")


class TrainCheckError(GraphToucanError):
    """The ``train`` extra is missing, or a template name does not exist."""


def _require() -> None:
    try:
        import tokenizers  # noqa: F401
        import transformers  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        raise TrainCheckError(
            "checking exports against trainers needs trl, transformers, torch and datasets: "
            "pip install trl transformers torch datasets (in a checkout: pip install '.[train]')"
        ) from None


def template_names(*, tools_only: bool = True) -> list[str]:
    """The chat templates TRL ships (those that render tools, by default)."""
    _require()
    folder = resources.files("trl") / "chat_templates"
    names = sorted(p.name.removesuffix(".jinja") for p in folder.iterdir() if p.name.endswith(".jinja"))
    if tools_only:
        names = [n for n in names if "tool" in chat_template(n)]
    return names


def chat_template(name: str) -> str:
    """A TRL chat template by file name (``qwen2_5``, ``llama3_1`` ...), or ``chatml``."""
    if name == "chatml":
        return CHATML
    _require()
    path = resources.files("trl") / "chat_templates" / f"{name}.jinja"
    if not path.is_file():
        raise TrainCheckError(f"TRL ships no chat template {name!r}; template_names() lists them")
    return path.read_text(encoding="utf-8")


def local_tokenizer(template: str, texts: Iterable[str], vocab_size: int = 1000) -> Any:
    """A byte-level BPE tokenizer trained on ``texts`` in memory, with the template's special tokens and
    ``template`` as its chat template (a ``PreTrainedTokenizerFast``)."""
    _require()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = sorted(set(_SPECIAL.findall(template)) | {"<|endoftext|>", "<pad>"})
    eos = next(
        (t for t in ("<|im_end|>", "<|eot_id|>", "<｜end▁of▁sentence｜>") if t in specials), "<|endoftext|>"
    )
    bos = next(
        (t for t in ("<|begin_of_text|>", "<｜begin▁of▁sentence｜>", "<|startoftext|>") if t in specials),
        None,
    )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        chat_template=template,
        eos_token=eos,
        bos_token=bos,
        pad_token="<pad>",
        unk_token=None,
    )


def row_texts(rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    """The texts of exported rows (to train a tokenizer on)."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False)


def _tools(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    tools = json.loads(tools) if isinstance(tools, str) else tools
    return tools or None  # Llama's templates render tool boilerplate for tools=[]


def render(tokenizer: Any, row: dict[str, Any]) -> str:
    """An SFT row (``messages``), or a preference row's prompt + chosen, as the template renders it."""
    messages = row["messages"] if "messages" in row else [*row["prompt"], *row["chosen"]]
    return tokenizer.apply_chat_template(messages, tools=_tools(row), tokenize=False)


def render_problem(text: str, row: dict[str, Any]) -> str | None:
    """What the rendered ``text`` lacks of ``row``, or None."""
    messages = row["messages"] if "messages" in row else [*row["prompt"], *row["chosen"]]
    calls_text = text  # without the tool results, which may quote JSON of their own
    for m in messages:
        if m["role"] == "tool" and m.get("content"):
            calls_text = calls_text.replace(json.dumps(m["content"], ensure_ascii=False), "").replace(
                m["content"], ""
            )
    for m in messages:
        content = (m.get("content") or "").strip()
        if m["role"] == "user" and content not in text:
            return f"the user message {content[:60]!r} is not in the text"
        if m["role"] == "tool" and content not in text and json.dumps(content)[1:-1] not in text:
            return f"the tool result {content[:60]!r} is not in the text"  # Llama quotes results: accepted
        for call in m.get("tool_calls") or []:
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            obj = json.loads(arguments) if isinstance(arguments, str) else arguments
            if obj and json.dumps(json.dumps(obj, ensure_ascii=False), ensure_ascii=False) in calls_text:
                return f"the arguments of {name} are a JSON string inside the text (encoded twice)"
            missing = [k for k, v in obj.items() if not _value_in(v, text)]
            if name not in text or missing:
                return f"the call {name}({', '.join(missing)}) is not in the text"
    return None


def _value_in(value: Any, text: str) -> bool:
    """An argument value as templates write it: JSON (objects, Hermes), or plain (XML and Python-style
    templates)."""
    forms = {json.dumps(value, ensure_ascii=False), json.dumps(value, ensure_ascii=False, indent=4)}
    if isinstance(value, str):
        forms.add(value)
    elif isinstance(value, bool):
        forms |= {str(value), str(value).lower()}
    elif isinstance(value, int | float):
        forms.add(str(value))
    return any(f in text for f in forms)


def render_rows(template: str, rows: list[dict[str, Any]], tokenizer: Any | None = None) -> dict[str, Any]:
    """Render every row; the pass count and the first problems (row id: reason)."""
    tokenizer = tokenizer or local_tokenizer(template, row_texts(rows[:50]), vocab_size=400)
    passed, problems = 0, {}
    for row in rows:
        try:
            problem = render_problem(render(tokenizer, row), row)
        except Exception as exc:  # a template's raise_exception, or a type it cannot concatenate
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            passed += 1
        else:
            problems[str(row.get("id", len(problems)))] = problem
    return {"rows": len(rows), "passed": passed, "problems": dict(list(problems.items())[:5])}


# -- training smoke runs -------------------------------------------------------------------------------------------


def tiny_model(tokenizer: Any, *, seed: int = 0) -> Any:
    """A randomly initialised two-layer Qwen2 causal LM sized to ``tokenizer`` (a few hundred thousand
    parameters), built in code."""
    _require()
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(config)


def _args(config_class: type, out: Path, steps: int, **extra: Any) -> Any:
    return config_class(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        **extra,
    )


def sft_smoke(
    jsonl: Path,
    tokenizer: Any,
    out: Path,
    *,
    steps: int = 2,
    max_length: int = 1024,
    assistant_only_loss: bool = False,
) -> dict[str, Any]:
    """Two steps (by default) of ``SFTTrainer`` on an exported ``trl`` JSONL, loaded with ``datasets``."""
    _require()
    from datasets import load_dataset
    from trl import SFTConfig, SFTTrainer

    dataset = load_dataset("json", data_files=str(jsonl), split="train")
    trainer = SFTTrainer(
        model=tiny_model(tokenizer),
        args=_args(SFTConfig, out, steps, max_length=max_length, assistant_only_loss=assistant_only_loss),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    result = trainer.train()
    return {"rows": len(dataset), "steps": result.global_step, "loss": round(result.training_loss, 4)}


def dpo_smoke(
    jsonl: Path, tokenizer: Any, out: Path, *, steps: int = 2, max_length: int = 1024
) -> dict[str, Any]:
    """Two steps (by default) of ``DPOTrainer`` on an exported ``dpo`` JSONL, loaded with ``datasets``."""
    _require()
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer

    dataset = load_dataset("json", data_files=str(jsonl), split="train")
    trainer = DPOTrainer(
        model=tiny_model(tokenizer),
        ref_model=tiny_model(tokenizer),  # the same seed: the policy's starting weights
        args=_args(DPOConfig, out, steps, max_length=max_length),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    result = trainer.train()
    return {"rows": len(dataset), "steps": result.global_step, "loss": round(result.training_loss, 4)}
