"""The framework integrations as users run them (session 12's fault hunt): several processes,
checkpoints, resumes, on CPU in real child processes. Skipped when the framework is not
installed (the `integrations` extra installs them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flightlog
from flightlog._wandb_install import enable

from .framework_scripts import HF_MODEL, LIGHTNING_MODULE

pytestmark = pytest.mark.slow


def _torchrun(code: str, tmp_path: Path, nproc: int = 2) -> subprocess.CompletedProcess[str]:
    """`code` as a script started by torchrun on `nproc` CPU ranks."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return subprocess.run(
        [*torchrun, f"--nproc_per_node={nproc}", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_accelerate_tracker_under_torchrun_keeps_ddp_and_makes_one_run(
    store: Path, tmp_path: Path
) -> None:
    """A tracker object is built before the Accelerator it is given to; building it must not
    set up the distributed state (accelerate's own trackers wait for start())."""
    pytest.importorskip("accelerate")
    r = _torchrun(
        """
        from accelerate import Accelerator
        from flightlog.integrations.accelerate import FlightlogTracker

        acc = Accelerator(log_with=FlightlogTracker("ddp"), cpu=True)
        print(f"RANK {acc.process_index} OF {acc.num_processes}", flush=True)
        acc.init_trackers("ddp", config={"world": acc.num_processes})
        for step in range(3):
            acc.log({"loss": 1.0 / (step + 1)}, step=step)
        acc.end_training()
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    # (the ranks share one pipe: a line of one can land inside the other's)
    assert sorted(re.findall(r"RANK \d+ OF \d+", r.stdout)) == [
        "RANK 0 OF 2",
        "RANK 1 OF 2",
    ]
    runs = flightlog.Api(store).runs("ddp")
    assert len(runs) == 1 and runs[0].state == "finished"
    assert runs[0].config == {"world": 2}


# framework_scripts' tiny module; trainer() fits 2 epochs
LIGHTNING = LIGHTNING_MODULE + "\nfrom flightlog.integrations.lightning import FlightlogLogger\n"


def _train(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "train.py"
    script.write_text(LIGHTNING + textwrap.dedent(code))
    r = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_lightning_checkpoints_go_where_the_trainer_says_not_into_the_store(
    store: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightning")
    r = _train(
        """
if __name__ == "__main__":
    t = trainer(logger=FlightlogLogger(project="pl"), default_root_dir="out")
    t.fit(Tiny(), loader)
    print("CKPT", t.checkpoint_callback.best_model_path)
""",
        tmp_path,
    )
    [run] = flightlog.Api(store).runs("pl")
    ckpt = tmp_path / r.stdout.split("CKPT ")[1].strip()  # relative to the script's cwd
    assert ckpt.parent == tmp_path / "out" / "pl" / run.id / "checkpoints"
    assert not list(store.rglob("*.ckpt"))


def test_lightning_ddp_spawn_fit_and_test_log_into_one_run(store: Path, tmp_path: Path) -> None:
    """'spawn' pickles the logger into each worker: the run must be the parent's, as
    WandbLogger's (it starts the run in __getstate__ and the workers attach to it)."""
    pytest.importorskip("lightning")
    r = _train(
        """
if __name__ == "__main__":
    logger = FlightlogLogger(project="pl")
    t = trainer(logger=logger, devices=2, strategy="ddp_spawn", default_root_dir="out")
    model = Tiny()
    t.fit(model, loader)
    t.test(model, loader)
    print("RUN", logger.experiment.id)
""",
        tmp_path,
    )
    [run] = flightlog.Api(store).runs("pl")
    assert r.stdout.split("RUN ")[1].strip() == run.id
    h = run.history().to_pydict()
    assert any(v is not None for v in h["train_loss"])
    assert any(v is not None for v in h["test_loss"])
    assert run.state == "finished"


def test_lightning_logger_takes_wandb_loggers_media_calls_and_log_model(
    store: Path, tmp_path: Path
) -> None:
    """Code written for WandbLogger (`self.logger.log_image(...)` in a module,
    `log_model="all"`) runs unchanged on FlightlogLogger."""
    pytest.importorskip("lightning")
    _train(
        """
import numpy as np


class WithMedia(Tiny):
    def on_train_epoch_end(self):
        self.logger.log_image("samples", [np.zeros((4, 4, 3), np.uint8)], caption=["zeros"])
        self.logger.log_table("preds", columns=["x", "y"], data=[[1, 2.5]])
        self.logger.log_text("notes", columns=["text"], data=[["epoch done"]])


if __name__ == "__main__":
    logger = FlightlogLogger(project="pl", log_model="all")
    trainer(logger=logger, default_root_dir="out").fit(WithMedia(), loader)
""",
        tmp_path,
    )
    [run] = flightlog.Api(store).runs("pl")
    rows = list(run.scan_history())
    samples, preds, notes = ([r[k] for r in rows if k in r] for k in ("samples", "preds", "notes"))
    assert len(samples) == len(preds) == len(notes) == 2  # one per epoch
    [image] = samples[-1].refs()
    assert image["caption"] == "zeros" and image.load().shape == (4, 4, 3)
    assert preds[-1].load().data == [[1, 2.5]]
    assert notes[-1].load().data == [["epoch done"]]
    versions = flightlog.Api(store).artifact(f"pl/model-{run.id}:latest", type="model")
    assert [f.path for f in versions.files()] == ["model.ckpt"]
    assert "best" in versions.aliases and versions.version == "v1"  # a checkpoint an epoch


def test_accelerate_tracker_logs_images_and_tables_as_wandbs_tracker(
    store: Path, tmp_path: Path
) -> None:
    pytest.importorskip("accelerate")
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import numpy as np
                from accelerate import Accelerator
                from flightlog.integrations.accelerate import FlightlogTracker

                acc = Accelerator(log_with=FlightlogTracker("acc"), cpu=True)
                acc.init_trackers("acc")
                tracker = acc.get_tracker("flightlog")
                tracker.log_images({"samples": [np.zeros((4, 4, 3), np.uint8)]}, step=0)
                tracker.log_table("preds", columns=["x"], data=[[1]], step=1)
                acc.end_training()
                """
            ),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    [run] = flightlog.Api(store).runs("acc")
    rows = list(run.scan_history())
    assert [i.load().shape for i in rows[0]["samples"].refs()] == [(4, 4, 3)]
    assert rows[1]["preds"].load().data == [[1]]


# framework_scripts' tiny GPT-2, saving a checkpoint every 4 of its 8 steps
HF = (
    HF_MODEL
    + """
from flightlog.integrations.transformers import FlightlogCallback

args = args(None, "none", max_steps=8, logging_steps=2, save_strategy="steps", save_steps=4)
"""
)


def _hf(code: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
    script = tmp_path / "train.py"
    script.write_text(HF + textwrap.dedent(code))
    r = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert r.returncode == 0, r.stderr[-3000:]


def test_hf_callback_logs_checkpoints_and_predict_metrics_as_wandbs(
    store: Path, tmp_path: Path
) -> None:
    """A job script that sets WANDB_LOG_MODEL=checkpoint for wandb's callback gets the same
    from FlightlogCallback: each checkpoint a version of model-RUN_ID, aliased by step."""
    pytest.importorskip("transformers")
    _hf(
        """
trainer = Trainer(model=model, args=args, train_dataset=data,
                  callbacks=[FlightlogCallback(project="hf")])
trainer.train()
trainer.predict(data[:8])
""",
        tmp_path,
        env={"WANDB_LOG_MODEL": "checkpoint"},
    )
    [run] = flightlog.Api(store).runs("hf")
    assert any(r.get("test/loss") for r in run.scan_history())
    api = flightlog.Api(store)
    for step, version in ((4, "v0"), (8, "v1")):
        art = api.artifact(f"hf/model-{run.id}:checkpoint_global_step_{step}", type="model")
        assert art.version == version and "model.safetensors" in [f.path for f in art.files()]


def test_hf_callback_gives_each_hyperparameter_trial_its_own_run(
    store: Path, tmp_path: Path
) -> None:
    """trainer.hyperparameter_search() calls train(trial=...) once a trial; the state says
    is_hyper_param_search. The trials here are given as a wandb sweep gives them (dicts:
    transformers takes those when `import wandb` works, so the alias is on the path)."""
    pytest.importorskip("transformers")
    alias = tmp_path / "alias"
    enable(alias)
    _hf(
        """
from transformers.trainer_utils import HPSearchBackend

args.save_strategy = "no"
trainer = Trainer(model=model, args=args, train_dataset=data,
                  callbacks=[FlightlogCallback(project="hp")])
trainer.hp_search_backend = HPSearchBackend.WANDB  # trials as dicts, as a sweep gives them
for lr in (1e-3, 1e-4):
    trainer.train(trial={"learning_rate": lr})
""",
        tmp_path,
        env={"PYTHONPATH": os.pathsep.join([str(alias), os.environ.get("PYTHONPATH", "")])},
    )
    runs = sorted(flightlog.Api(store).runs("hp"), key=lambda r: r.config["learning_rate"])
    assert [r.config["learning_rate"] for r in runs] == [1e-4, 1e-3]
    for r in runs:
        assert r.state == "finished"
        assert r.history().to_pydict()["train/global_step"][0] == 2  # each from its start


def test_lightning_logger_takes_wandb_loggers_offline_and_version(
    store: Path, tmp_path: Path
) -> None:
    """WandbLogger(project=..., offline=True, version=ID) is how cluster jobs use wandb:
    the same arguments on FlightlogLogger mean the same."""
    pytest.importorskip("lightning")
    r = _train(
        """
if __name__ == "__main__":
    logger = FlightlogLogger(project="pl", offline=True, version="job00042")
    trainer(logger=logger, default_root_dir="out").fit(Tiny(), loader)
    print("MODE", logger.experiment.settings.mode)
""",
        tmp_path,
    )
    [run] = flightlog.Api(store).runs("pl")
    assert run.id == "job00042" and run.state == "finished"
    assert "MODE offline" in r.stdout, r.stdout  # offline=True is the run's mode


def test_lightning_logger_uses_and_downloads_artifacts_as_wandb_logger(
    store: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lightning")
    (tmp_path / "base.ckpt").write_bytes(b"weights")
    r = _train(
        """
import flightlog

if __name__ == "__main__":
    first = flightlog.init(project="pl")
    first.log_model("base.ckpt", name="base")
    first.finish()
    path = FlightlogLogger.download_artifact("pl/base:latest", save_dir="dl", artifact_type="model")
    assert open(f"{path}/base.ckpt", "rb").read() == b"weights"
    logger = FlightlogLogger(project="pl")
    art = logger.use_artifact("base:latest", artifact_type="model")
    assert art.version == "v0"
    trainer(logger=logger, default_root_dir="out").fit(Tiny(), loader)
    print("USED", logger.experiment.id)
""",
        tmp_path,
    )
    runs = {r.id: r for r in flightlog.Api(store).runs("pl")}
    [used] = [r for r in runs.values() if r.meta.get("used_artifacts")]
    assert [a["name"] for a in used.meta["used_artifacts"]] == ["base"]
    assert f"USED {used.id}" in r.stdout, r.stdout  # the logger's own run


def test_hf_callback_logs_the_checkpoints_of_each_trial(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    alias = tmp_path / "alias"
    enable(alias)
    _hf(
        """
from transformers.trainer_utils import HPSearchBackend

trainer = Trainer(model=model, args=args, train_dataset=data,
                  callbacks=[FlightlogCallback(project="hp", log_model="checkpoint")])
trainer.hp_search_backend = HPSearchBackend.WANDB  # trials as dicts, as a sweep gives them
for lr in (1e-3, 1e-4):
    trainer.train(trial={"learning_rate": lr})
""",
        tmp_path,
        env={"PYTHONPATH": os.pathsep.join([str(alias), os.environ.get("PYTHONPATH", "")])},
    )
    api = flightlog.Api(store)
    for run in api.runs("hp"):
        art = api.artifact(f"hp/model-{run.id}:checkpoint_global_step_8", type="model")
        assert "model.safetensors" in [f.path for f in art.files()]
