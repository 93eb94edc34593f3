"""HF Trainer, Lightning and Accelerate, unmodified, logging through `import wandb` as the
flightlog alias: tiny models built in code, trained on CPU in a real child process, each run
read back (metrics, config, summary). Skipped when the framework is not installed (the
`integrations` extra installs them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import flightlog
from flightlog._wandb_install import enable
from flightlog.artifacts.registry import Registry

from .conftest import python_script
from .framework_scripts import ACCELERATE_LOOP, HF_MODEL, LIGHTNING_MODULE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def alias(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("alias")
    enable(target)
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def _train(code: str, env: dict[str, str], tmp_path: Path) -> None:
    r = python_script(code, env={**env, "FLIGHTLOG_SILENT": ""}, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def _only_run(store: Path, project: str) -> flightlog.Api:
    runs = flightlog.Api(store).runs(project)
    assert len(runs) == 1
    assert runs[0].state == "finished"
    return runs[0]


def test_hf_trainer_report_to_wandb(alias: dict[str, str], store: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    _train(
        HF_MODEL
        + """
Trainer(model=model, args=args("hf-tiny", "wandb"), train_dataset=data).train()
""",
        {**alias, "WANDB_PROJECT": "hf"},
        tmp_path,
    )
    run = _only_run(store, "hf")
    h = run.history().to_pydict()
    rows = [(s, loss) for s, loss in zip(h["train/global_step"], h["train/loss"], strict=True)]
    assert [s for s, loss in rows if loss is not None] == [5, 10, 15, 20]
    assert all(loss > 0 for _, loss in rows if loss is not None)
    assert run.name == "hf-tiny"
    assert run.config["learning_rate"] == 1e-3 and run.config["n_layer"] == 2
    assert run.config["model/num_parameters"] > 0
    assert run.summary["train/global_step"] == 20 and run.summary["train_runtime"] > 0
    assert run.summary["train_loss"] == pytest.approx(
        sum(loss for _, loss in rows if loss is not None) / 4, rel=0.05
    )
    assert run.meta["integration"] == {"code": "transformers_trainer"}


def test_lightning_wandb_logger(alias: dict[str, str], store: Path, tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    _train(
        LIGHTNING_MODULE
        + """
from lightning.pytorch.loggers import WandbLogger

logger = WandbLogger(project="pl", name="pl-tiny", log_model=True)
pickle.loads(pickle.dumps(logger))  # what 'spawn' does to it
model = Tiny()
logger.watch(model, log="all", log_freq=4)
fit(logger, model)
logger.log_table("samples", columns=["a"], data=[[1]])
logger.log_metrics({"after": 1.0})
logger.experiment.finish()
""",
        alias,
        tmp_path,
    )
    run = _only_run(store, "pl")
    h = run.history().to_pydict()
    steps = [s for s, v in zip(h["trainer/global_step"], h["train_loss"], strict=True) if v]
    assert steps == list(range(1, 24, 2))
    assert run.config == {"lr": 0.1}
    assert run.summary["after"] == 1.0 and run.summary["trainer/global_step"] == 23
    assert len([g for g in h["gradients/layer.weight"] if g is not None]) == 6  # 24 steps / 4
    [art] = run.meta["artifacts"]
    assert art["type"] == "model" and art["aliases"] == ["latest", "best"]
    kept = Registry(store).resolve("pl", art["name"], art["version"])
    assert kept.entries["model.ckpt"]["size"] > 0


def test_accelerate_log_with_wandb(alias: dict[str, str], store: Path, tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    _train(
        ACCELERATE_LOOP
        + """
acc = Accelerator(log_with="wandb", cpu=True)
acc.init_trackers("acc", config={"lr": 0.01}, init_kwargs={"wandb": {"name": "a"}})
train(acc, step_of=lambda i: i * 2)
""",
        alias,
        tmp_path,
    )
    run = _only_run(store, "acc")
    h = run.history().to_pydict()
    assert h["_step"] == list(range(0, 20, 2)) and all(v > 0 for v in h["loss"])
    assert run.config == {"lr": 0.01} and run.name == "a"
    assert run.summary["loss"] == h["loss"][-1]
    assert json.dumps(run.summary)  # plain values
