"""Which value of a metric is best, and why: the rule compare uses (CLI and terminal UI).

A run's `define_metric(name, goal="minimize"|"maximize")` decides first, then its
`summary="min"|"max"`; without either, the metric's name does: `loss`, `err`, `perplexity`,
`mse`, `mae` are lower-is-better and `acc`, `f1`, `auc`, `precision`, `recall`, `reward`,
`bleu` higher-is-better. Anything else (`grad_norm`, `lr`, `epoch`) has no best, so nothing
is highlighted rather than something arbitrary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LOWER = ("loss", "err", "perplexity", "ppl", "mse", "mae", "rmse")
HIGHER = ("acc", "f1", "auc", "precision", "recall", "reward", "bleu")


@dataclass(frozen=True)
class Goal:
    lower: bool  # True: the smallest value is best
    rule: str  # why, as shown: 'goal=minimize', 'summary=max' (define_metric), 'name: loss'

    @property
    def label(self) -> str:
        return f"{'lower' if self.lower else 'higher'} ({self.rule})"


def _words(key: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", key.lower()) if w]


def goal_of(key: str, definitions: Iterable[dict[str, Any]]) -> Goal | None:
    """The goal for `key` from define_metric() records (run.json's `metrics`), else its name."""
    for d in definitions:
        if d.get("name") != key:
            continue
        if d.get("goal") in ("minimize", "maximize"):
            return Goal(d["goal"] == "minimize", f"goal={d['goal']}")
        if d.get("summary") in ("min", "max"):
            return Goal(d["summary"] == "min", f"summary={d['summary']}")
    words = _words(key)
    for word in words:
        for stem in LOWER:
            if word.startswith(stem) or word.endswith(stem):
                return Goal(True, f"name: {stem}")
        for stem in HIGHER:
            if word.startswith(stem) or word.endswith(stem):
                return Goal(False, f"name: {stem}")
    return None


def best_value(values: list[Any], goal: Goal | None) -> float | None:
    """The best finite number among `values` (None: no goal, or fewer than two numbers)."""
    nums = [
        v
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if goal is None or len(nums) < 2:
        return None
    return min(nums) if goal.lower else max(nums)
