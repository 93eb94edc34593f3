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

from .conftest import python_script

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
        """
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

        torch.manual_seed(0)
        cfg = GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=16)
        model = GPT2LMHeadModel(cfg)
        data = [{"input_ids": torch.randint(0, 50, (8,))} for _ in range(40)]
        for d in data:
            d["labels"] = d["input_ids"]
        args = TrainingArguments(
            output_dir="out", max_steps=20, logging_steps=5, per_device_train_batch_size=4,
            report_to="wandb", save_strategy="no", use_cpu=True, run_name="hf-tiny",
            disable_tqdm=True, learning_rate=1e-3,
        )
        Trainer(model=model, args=args, train_dataset=data).train()
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
        """
        import pickle
        import torch
        import lightning as L
        from lightning.pytorch.loggers import WandbLogger

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
        logger = WandbLogger(project="pl", name="pl-tiny", log_model=True)
        pickle.loads(pickle.dumps(logger))  # what 'spawn' does to it
        model = Tiny()
        logger.watch(model, log="all", log_freq=4)
        trainer = L.Trainer(max_epochs=3, logger=logger, log_every_n_steps=2,
                            enable_progress_bar=False, enable_model_summary=False,
                            accelerator="cpu")
        trainer.fit(model, torch.utils.data.DataLoader(ds, batch_size=8))
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
    assert art["type"] == "model" and Path(art["entries"]["model.ckpt"]).is_file()


def test_accelerate_log_with_wandb(alias: dict[str, str], store: Path, tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    _train(
        """
        import torch
        from accelerate import Accelerator

        acc = Accelerator(log_with="wandb", cpu=True)
        acc.init_trackers("acc", config={"lr": 0.01}, init_kwargs={"wandb": {"name": "a"}})
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
            acc.log({"loss": loss.item()}, step=step * 2)
        acc.end_training()
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
