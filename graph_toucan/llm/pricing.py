"""Dollar prices per million tokens, per model; users extend or override them with a JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from graph_toucan.errors import LLMConfigError

# USD per million input / output tokens (list prices; extend with --prices FILE).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "offline": (0.0, 0.0),
    "scripted": (0.0, 0.0),
}


@dataclass
class PriceTable:
    prices: dict[str, tuple[float, float]]

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The defaults, overridden by ``path``: ``{"model": {"input": 3.0, "output": 15.0}}`` in $/Mtok."""
        prices = dict(DEFAULT_PRICES)
        if path is None:
            return cls(prices)
        try:
            extra = json.loads(Path(path).read_text())
            for model, price in extra.items():
                prices[model] = (float(price["input"]), float(price["output"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LLMConfigError(
                f"price file {path} is not usable ({exc}); write it as "
                '{"model-name": {"input": 3.0, "output": 15.0}} in dollars per million tokens'
            ) from None
        return cls(prices)

    def lookup(self, model: str) -> tuple[float, float] | None:
        """Exact model name, else the longest known prefix (``claude-sonnet-4-5-20250929``)."""
        if model in self.prices:
            return self.prices[model]
        prefixes = [m for m in self.prices if model.startswith(m)]
        return self.prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        price = self.lookup(model) or (0.0, 0.0)
        return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
