"""The native integrations (flightlog.integrations.*), for code that names flightlog: the
same tiny trainings as tests/test_integrations.py, each run read back. Skipped when the
framework is not installed (the `integrations` extra installs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import python_script
from .framework_scripts import ACCELERATE_LOOP, HF_MODEL, LIGHTNING_MODULE

pytestmark = pytest.mark.slow


def _train(code: str, tmp_path: Path) -> None:
    r = python_script(code, env={"FLIGHTLOG_SILENT": ""}, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def _only_run(store: Path, project: str):
    runs = flightlog.Api(store).runs(project)
    assert len(runs) == 1
    assert runs[0].state == "finished"
    return runs[0]


def test_transformers_callback(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    _train(
        HF_MODEL
        + """
from flightlog.integrations.transformers import FlightlogCallback

Trainer(model=model, args=args("hf-native", "none"), train_dataset=data,
        callbacks=[FlightlogCallback(project="hfn")]).train()
""",
        tmp_path,
    )
    run = _only_run(store, "hfn")
    h = run.history().to_pydict()
    losses = {s: v for s, v in zip(h["train/global_step"], h["train/loss"], strict=True) if v}
    assert sorted(losses) == [5, 10, 15, 20]
    assert run.name == "hf-native" and run.config["learning_rate"] == 1e-3
    assert run.config["n_layer"] == 2 and run.config["model/num_parameters"] > 0
    assert run.summary["train_runtime"] > 0
    assert run.summary["train_loss"] == pytest.approx(sum(losses.values()) / 4, rel=0.05)


def test_lightning_logger(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    _train(
        LIGHTNING_MODULE
        + """
from flightlog.integrations.lightning import FlightlogLogger

logger = FlightlogLogger(project="pln", name="pl-native")
model = Tiny()
logger.watch(model, log="gradients", log_freq=4)
assert pickle.loads(pickle.dumps(logger)).experiment is logger.experiment
fit(logger, model)
""",
        tmp_path,
    )
    run = _only_run(store, "pln")
    h = run.history().to_pydict()
    steps = [s for s, v in zip(h["trainer/global_step"], h["train_loss"], strict=True) if v]
    assert steps == list(range(1, 24, 2))
    assert run.name == "pl-native" and run.config == {"lr": 0.1}
    assert run.summary["trainer/global_step"] == 23
    assert len([g for g in h["gradients/layer.weight"] if g is not None]) == 6


def test_accelerate_tracker(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    _train(
        ACCELERATE_LOOP
        + """
from flightlog.integrations.accelerate import FlightlogTracker

acc = Accelerator(log_with=FlightlogTracker("accn", name="acc-native"), cpu=True)
acc.init_trackers("accn", config={"lr": 0.01})
train(acc)
""",
        tmp_path,
    )
    run = _only_run(store, "accn")
    h = run.history().to_pydict()
    assert h["_step"] == list(range(10)) and all(v > 0 for v in h["loss"])
    assert run.config == {"lr": 0.01} and run.name == "acc-native"


def test_importing_flightlog_loads_no_framework() -> None:
    r = python_script(
        "import sys, flightlog, flightlog.integrations\n"
        "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'accelerate') "
        "if m in sys.modules))"
    )
    assert r.stdout.strip() == "[]", r.stderr
