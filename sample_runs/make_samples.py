"""Regenerate sample_runs/: a learning-rate sweep of a small numpy MLP on the digits data.

    pip install -e '.[samples]' && python sample_runs/make_samples.py

The digits data set ships inside scikit-learn (nothing is downloaded). Two groups of six
runs (SGD with momentum, Adam) sweep the learning rate. The largest SGD rate diverges: its
loss becomes NaN and the run fails. One Adam run is killed with SIGKILL halfway through, so
it reads as crashed. Each run records system metrics (every 0.2 s) and its console output (a
line per epoch, and the failed run's traceback), so every screen of the terminal UI has
something to show. Everything but the timestamps and system metrics is deterministic (seed 0).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import flightlog
from flightlog._names import ADJECTIVES, NOUNS

HERE = Path(__file__).resolve().parent
SEED = 0
EPOCHS = 12
BATCH = 64
SWEEP = [
    # (optimizer, learning rate, hidden units, tags)
    ("sgd", 0.01, 32, ["baseline"]),
    ("sgd", 0.03, 32, []),
    ("sgd", 0.1, 64, []),
    ("sgd", 0.3, 64, []),
    ("sgd", 1.0, 64, []),
    ("sgd", 30.0, 64, ["unstable"]),  # diverges: NaN loss, the run fails
    ("adam", 1e-4, 32, ["baseline"]),
    ("adam", 3e-4, 32, []),
    ("adam", 1e-3, 64, []),
    ("adam", 3e-3, 64, ["best-guess"]),  # killed halfway: crashed
    ("adam", 1e-2, 64, []),
    ("adam", 3e-2, 64, ["unstable"]),
]
KILLED = ("adam", 3e-3)


def data() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float64) / 16.0
    order = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def loss_acc(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
             ) -> tuple[float, float, dict[str, np.ndarray]]:
    """Cross-entropy, accuracy and gradients of a 64-H-10 ReLU MLP."""
    h = np.maximum(x @ params["w1"] + params["b1"], 0)
    logits = h @ params["w2"] + params["b2"]
    p = np.exp(logits)  # naive softmax: with a rate too large the logits overflow to NaN
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = float(-np.log(p[np.arange(n), y] + 1e-12).mean())
    acc = float((p.argmax(axis=1) == y).mean())
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    grads = {"w2": h.T @ d, "b2": d.sum(0)}
    dh = (d @ params["w2"].T) * (h > 0)
    grads.update(w1=x.T @ dh, b1=dh.sum(0))
    return loss, acc, grads


def train(opt: str, lr: float, hidden: int, tags: list[str], number: int, kill_at: int | None
          ) -> None:
    xtr, ytr, xva, yva = data()
    rng = np.random.default_rng(SEED)
    params = {
        "w1": rng.normal(0, np.sqrt(2 / 64), (64, hidden)), "b1": np.zeros(hidden),
        "w2": rng.normal(0, np.sqrt(2 / hidden), (hidden, 10)), "b2": np.zeros(10),
    }
    state = {k: np.zeros_like(v) for k, v in params.items()}
    state2 = {k: np.zeros_like(v) for k, v in params.items()}
    names = random.Random(f"{SEED}-{opt}-{lr}")
    run = flightlog.init(
        project="digits-mlp", dir=str(HERE), group=f"{opt}-lr-sweep", job_type="train",
        id=hashlib.sha1(f"{SEED}-{opt}-{lr}".encode()).hexdigest()[:8],
        name=f"{names.choice(ADJECTIVES)}-{names.choice(NOUNS)}-{number}",
        tags=["digits", opt, *tags], notes=f"{opt} at lr={lr}",
        config={"optimizer": opt, "lr": lr, "hidden": hidden, "batch_size": BATCH,
                "epochs": EPOCHS, "seed": SEED, "momentum": 0.9 if opt == "sgd" else None,
                "betas": [0.9, 0.999] if opt == "adam" else None},
        settings={"stats_interval": 0.2},
    )
    print(f"training a 64-{hidden}-10 MLP on {len(xtr)} digits with {opt} at lr={lr:g}")
    run.define_metric("val/loss", summary="min")
    run.define_metric("val/acc", summary="max")
    with run, np.errstate(all="ignore"):
        t = 0
        for epoch in range(EPOCHS):
            order = rng.permutation(len(xtr))
            for i in range(0, len(xtr), BATCH):
                idx = order[i : i + BATCH]
                loss, acc, grads = loss_acc(params, xtr[idx], ytr[idx])
                t += 1
                for k, g in grads.items():
                    if opt == "sgd":
                        state[k] = 0.9 * state[k] + g
                        params[k] -= lr * state[k]
                    else:
                        state[k] = 0.9 * state[k] + 0.1 * g
                        state2[k] = 0.999 * state2[k] + 0.001 * g * g
                        mhat, vhat = state[k] / (1 - 0.9**t), state2[k] / (1 - 0.999**t)
                        params[k] -= lr * mhat / (np.sqrt(vhat) + 1e-8)
                run.log({"train/loss": loss, "train/acc": acc, "epoch": epoch,
                         "grad_norm": float(np.sqrt(sum((g * g).sum() for g in grads.values())))})
                time.sleep(0.005)  # the pace of a (very) small real training step
                if not np.isfinite(loss):
                    print(f"step {t}: loss is {loss}, giving up", file=sys.stderr, flush=True)
                    raise FloatingPointError(f"loss diverged to {loss} at step {t} (lr={lr})")
            vloss, vacc, _ = loss_acc(params, xva, yva)
            run.log({"val/loss": vloss, "val/acc": vacc}, commit=False)
            print(f"epoch {epoch + 1:2d}/{EPOCHS}  step {t:3d}  train/loss {loss:.4f}  "
                  f"train/acc {acc:.3f}  val/loss {vloss:.4f}  val/acc {vacc:.4f}  "
                  f"lr {lr:g} ({opt}, batch {BATCH}, hidden {hidden})", flush=True)
            if kill_at is not None and epoch == kill_at:
                run._writer.flush()  # type: ignore[union-attr]  # what a real flush tick does
                os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run sweep entry N in-process
    args = p.parse_args()
    os.environ["FLIGHTLOG_SILENT"] = "1"
    if args.one is not None:
        opt, lr, hidden, tags = SWEEP[args.one]
        kill = EPOCHS // 2 if (opt, lr) == KILLED else None
        train(opt, lr, hidden, tags, args.one + 1, kill)
        return
    shutil.rmtree(HERE / "runs", ignore_errors=True)
    for f in ("index.duckdb", "index.duckdb.wal"):
        (HERE / f).unlink(missing_ok=True)
    for i, (opt, lr, *_rest) in enumerate(SWEEP):
        # one process per run, as a sweep agent would start them
        res = subprocess.run([sys.executable, __file__, "--one", str(i)], check=False,
                             capture_output=True, text=True)
        status = {0: "finished", 1: "failed (diverged)", -9: "killed (crashed)"}.get(
            res.returncode, f"exit {res.returncode}")
        print(f"{opt:5} lr={lr:<7g} {status}")
    for lock in (HERE / "runs").rglob(".*.lock"):  # a writer's runtime state, not data
        lock.unlink()
    size = sum(f.stat().st_size for f in (HERE / "runs").rglob("*") if f.is_file())
    print(f"sample_runs: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
