"""The default summary columns of a runs listing: which few of the runs' numeric summary keys
the TUI's runs screen and `flightlog runs` show when the user picked none (one rule for a
store, store/catalog.py, the summaries in hand, tui/runs_data.py, and a server's runs,
sync/remote.py).

Keys are ranked by, in order:

1. declared with define_metric by the runs' scripts (their author chose that summary);
2. held by at least half the runs that have a numeric summary (a column blank in most
   rows compares nothing; runs that logged nothing yet do not count);
3. their name, as a user looks for a metric: a loss first; then a quality metric (acc,
   f1, auc, error, reward...) or a validation, eval or test key; then any other key;
   bookkeeping last (epoch, step, lr, time, memory...);
4. held by more runs;
5. the name, alphabetically.

What counts as numeric (`numeric_keys`, and `NUMERIC_SQL` for the index's summary table):
an int or a float (NaN too), not a bool. A flag (`converged: True`) is no metric runs are
compared by, and the summary rules take no bool either (min, max and mean skip them:
store/history_fold.py, store/summary_tail.py); wandb, too, shows a bool summary as
true/false, not as a number. One rule for the three listings: before, the index and the
TUI counted bools and a server's list did not, so a bool key could be a default column
locally and never on a server.

Why the name before the count and the alphabet: the runs of one script share every key, so
every key tied and the alphabet chose - the sample runs showed `epoch`, `grad_norm` and
`train/acc`, and no loss. Why not the keys logged most recently: a summary does not say
when each key was logged, and keys logged every step (lr, epoch) would win over an eval
metric logged once an epoch, which is what runs are compared by.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from itertools import chain
from typing import Any

#: a name's words (lowercased): "val/top1_acc" -> val, top1, acc
_WORDS = re.compile(r"[a-z0-9]+")
#: words of a metric that says how good a model is
QUALITY = frozenset(
    "acc accuracy top1 top5 f1 auc auroc roc precision recall map iou miou dice bleu rouge "
    "perplexity ppl error err wer cer mse mae rmse reward return score".split()
)
#: words of a key logged on held-out data
HELD_OUT = frozenset("val valid validation eval evaluation test dev".split())
#: words of a key that counts or paces training rather than measuring it
BOOKKEEPING = frozenset(
    "epoch epochs step steps global iter iters iteration lr learning batch time runtime "
    "timestamp seconds sec elapsed samples tokens throughput memory mem gpu cpu".split()
)


#: `numeric_keys`' rule over the index's `summary` table (store/describe.py `_value_row`:
#: a bool's `num` is 0 or 1, and its `text` "true" or "false"; a number's `text` is NULL)
NUMERIC_SQL = "num IS NOT NULL AND text IS NULL"


def numeric_keys(summary: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of `summary` a listing's default columns may show: not `_`-prefixed, their
    value an int or a float (not a bool)."""
    return tuple(
        k
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and not k.startswith("_")
    )


def name_rank(key: str) -> int:
    """0 for a loss, 1 for a quality metric or a held-out key, 2 for any other key, 3 for
    bookkeeping (the module's rule 3)."""
    words = _WORDS.findall(key.lower())
    if any(w.endswith("loss") or w == "nll" for w in words):
        return 0
    if any(w in QUALITY or w in HELD_OUT for w in words):
        return 1
    if any(w in BOOKKEEPING for w in words):
        return 3
    return 2


def default_columns(
    counts: Mapping[str, int], runs: int, defined: Collection[str] = (), limit: int = 3
) -> list[str]:
    """The `limit` keys to show of `counts` (numeric summary key -> how many of the `runs`
    runs with a numeric summary hold it), `defined` the keys declared with define_metric."""

    def rank(key: str) -> tuple[bool, bool, int, int, str]:
        n = counts[key]
        return (key not in defined, 2 * n < runs, name_rank(key), -n, key)

    return sorted(counts, key=rank)[:limit]


def columns_of(
    runs_keys: Iterable[Collection[str]], defined: Collection[str] = (), limit: int = 3
) -> list[str]:
    """`default_columns` of runs' summaries in hand, given as each run's numeric summary keys
    (not `_`-prefixed): a run with none does not count (rule 2)."""
    held = [keys for keys in runs_keys if keys]
    return default_columns(Counter(chain.from_iterable(held)), len(held), defined, limit)
