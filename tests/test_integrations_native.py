"""The native integrations (flightlog.integrations.*), for code that names flightlog: the
same tiny trainings as tests/test_integrations.py, each run read back. Skipped when the
framework is not installed (the `integrations` extra installs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import python_script

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
        """
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
        from flightlog.integrations.transformers import FlightlogCallback

        torch.manual_seed(0)
        cfg = GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=16)
        data = [{"input_ids": torch.randint(0, 50, (8,))} for _ in range(40)]
        for d in data:
            d["labels"] = d["input_ids"]
        args = TrainingArguments(
            output_dir="out", max_steps=20, logging_steps=5, per_device_train_batch_size=4,
            report_to="none", save_strategy="no", use_cpu=True, run_name="hf-native",
            disable_tqdm=True, learning_rate=1e-3,
        )
        trainer = Trainer(model=GPT2LMHeadModel(cfg), args=args, train_dataset=data,
                          callbacks=[FlightlogCallback(project="hfn")])
        trainer.train()
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
        """
        import pickle
        import torch
        import lightning as L
        from flightlog.integrations.lightning import FlightlogLogger

        class Tiny(L.LightningModule):
            def __init__(self, lr=0.1):
                super().__init__()
                self.save_hyperparameters()
                self.layer = torch.nn.Linear(4, 1)
            def training_step(self, batch, _):
                x, y = batch
                loss = torch.nn.functional.mse_loss(self.layer(x), y)
                self.log("train_loss", loss)
                return loss
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

        torch.manual_seed(0)
        x = torch.randn(64, 4)
        ds = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
        logger = FlightlogLogger(project="pln", name="pl-native")
        model = Tiny()
        logger.watch(model, log="gradients", log_freq=4)
        assert pickle.loads(pickle.dumps(logger)).experiment is logger.experiment
        trainer = L.Trainer(max_epochs=3, logger=logger, log_every_n_steps=2,
                            enable_progress_bar=False, enable_model_summary=False,
                            accelerator="cpu")
        trainer.fit(model, torch.utils.data.DataLoader(ds, batch_size=8))
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
        """
        import torch
        from accelerate import Accelerator
        from flightlog.integrations.accelerate import FlightlogTracker

        acc = Accelerator(log_with=FlightlogTracker("accn", name="acc-native"), cpu=True)
        acc.init_trackers("accn", config={"lr": 0.01})
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        model, opt = acc.prepare(model, opt)
        torch.manual_seed(0)
        for step in range(10):
            x = torch.randn(8, 4)
            loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
            acc.backward(loss)
            opt.step()
            opt.zero_grad()
            acc.log({"loss": loss.item()}, step=step)
        acc.end_training()
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
