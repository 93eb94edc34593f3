"""The numbers behind `flightlog.plot.confusion_matrix`, `pr_curve` and `roc_curve`, computed
with numpy as wandb computes them (wandb needs scikit-learn for the curves; flightlog does
not): counts of (actual, predicted) pairs, and each class's curve one-vs-rest."""

from __future__ import annotations

from typing import Any

import numpy as np

#: points a class's curve keeps at most (evenly spaced, ends kept): a table row each
MAX_CURVE_POINTS = 1000


def confusion_counts(
    probs: Any, y_true: Any, preds: Any, class_names: list[str] | None
) -> list[list[Any]]:
    """[actual name, predicted name, count] for every pair of classes."""
    if (probs is None) == (preds is None):
        raise ValueError("confusion_matrix(): give one of probs= or preds=, not both or none")
    truth = np.asarray(y_true).tolist()
    predicted = np.argmax(np.asarray(probs), axis=1).tolist() if preds is None else list(preds)
    if len(predicted) != len(truth):
        raise ValueError(
            f"confusion_matrix(): {len(predicted)} predictions for {len(truth)} true labels"
        )
    if class_names is not None:
        classes: list[Any] = list(range(len(class_names)))
        names = [str(c) for c in class_names]
        unknown = sorted({*truth, *predicted} - set(classes), key=str)
        if unknown:
            raise ValueError(
                f"confusion_matrix(): labels {unknown[:5]} are not indexes of the "
                f"{len(names)} class_names"
            )
    else:
        classes = sorted({*truth, *predicted})
        names = [f"Class_{i + 1}" for i in range(len(classes))]
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        counts[index[t], index[p]] += 1
    pairs = [(i, j) for i in range(len(names)) for j in range(len(names))]
    return [[names[i], names[j], int(counts[i, j])] for i, j in pairs]


def curves(
    kind: str,
    y_true: Any,
    y_probas: Any,
    labels: list[str] | None,
    classes_to_plot: list[Any] | None,
    interp_size: int,
) -> list[list[Any]]:
    """[class, a, b] rows of each class's curve: ("pr") precision, recall at `interp_size`
    recall points; ("roc") fpr, tpr at every distinct score (at most MAX_CURVE_POINTS).
    A class is named as given (a numpy label is made plain where the Table stores it)."""
    truth = np.asarray(y_true)
    scores = np.asarray(y_probas, dtype=np.float64)
    if scores.ndim != 2 or len(scores) != len(truth):
        raise ValueError(
            f"{kind}_curve(): y_probas must be one row of class scores per label, got shape "
            f"{scores.shape} for {len(truth)} labels"
        )
    rows: list[list[Any]] = []
    for i, c in enumerate(np.unique(truth)):
        if classes_to_plot is not None and c not in classes_to_plot:
            continue
        column = int(c) if np.issubdtype(type(c), np.integer) else i
        name = labels[column] if labels is not None and column < len(labels) else c
        tp, fp = _counts(truth == c, scores[:, column])
        if kind == "roc":
            a, b = fp / max(fp[-1], 1), tp / max(tp[-1], 1)
            rows += [[name, float(x), float(y)] for x, y in _thin(a, b)]
        else:
            recall = np.linspace(0, 1, interp_size)
            precision = np.interp(recall, *_precision_by_recall(tp, fp))
            points = zip(recall, precision, strict=True)
            rows += [[name, float(p), float(r)] for r, p in points]
    return rows


def _counts(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives above each distinct score, highest first, from (0, 0)."""
    order = np.argsort(-score, kind="mergesort")
    positive, score = positive[order], score[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tp = np.cumsum(positive)[last]
    return np.r_[0, tp].astype(np.float64), np.r_[0, last + 1 - tp].astype(np.float64)


def _precision_by_recall(tp: np.ndarray, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall ascending, the best precision at that recall or beyond), as wandb smooths."""
    recall = tp / max(tp[-1], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
    best = np.maximum.accumulate(precision[::-1])[::-1]
    return recall, best


def _thin(x: np.ndarray, y: np.ndarray) -> zip[tuple[Any, Any]]:
    if len(x) > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).round().astype(int))
        x, y = x[keep], y[keep]
    return zip(x, y, strict=True)
