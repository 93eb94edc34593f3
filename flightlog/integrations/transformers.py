"""`FlightlogCallback`: an HF `TrainerCallback` logging to flightlog, as `report_to="wandb"`
would (the same keys: `train/loss`, `eval/loss`, `train/global_step`; arguments and the model
config in `config`; the end-of-training numbers in the summary).

    Trainer(..., report_to="none", callbacks=[FlightlogCallback(project="my-project")])
"""

from __future__ import annotations

import os
from typing import Any

from transformers import TrainerCallback
from transformers.integrations.integration_utils import rewrite_logs

import flightlog

#: what the Trainer logs once at the end: kept in the summary, as wandb's callback does
SUMMARY_ONLY = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_loss",
        "total_flos",
    }
)


class FlightlogCallback(TrainerCallback):
    """Starts a run (or uses the current one) on the main process when training begins."""

    def __init__(self, **init_kwargs: Any) -> None:
        self.init_kwargs = init_kwargs
        self.run: flightlog.Run | None = None

    def setup(self, args: Any, state: Any, model: Any) -> None:
        if not state.is_world_process_zero or self.run is not None:
            return
        kwargs = {"project": os.getenv("WANDB_PROJECT", "huggingface"), **self.init_kwargs}
        if args.run_name is not None and "name" not in kwargs:
            kwargs["name"] = args.run_name
        self.run = flightlog.run or flightlog.init(**kwargs)
        config = {**args.to_dict()}
        model_config = getattr(model, "config", None)
        if model_config is not None:
            config = {
                **(model_config if isinstance(model_config, dict) else model_config.to_dict()),
                **config,
            }
        self.run.config.update(config, allow_val_change=True)
        if hasattr(model, "num_parameters"):
            self.run.config.update(
                {"model/num_parameters": model.num_parameters()}, allow_val_change=True
            )
        self.run.define_metric("train/global_step")
        self.run.define_metric("*", step_metric="train/global_step")
        self.run._label(code="flightlog_transformers")

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        self.setup(args, state, model)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        model: Any = None,
        logs: Any = None,
        **kwargs: Any,
    ) -> None:
        self.setup(args, state, model)
        if self.run is None or not logs:
            return
        summary = {k: v for k, v in logs.items() if k in SUMMARY_ONLY}
        if summary:
            self.run.summary.update(summary)
        rest = rewrite_logs({k: v for k, v in logs.items() if k not in SUMMARY_ONLY})
        self.run.log({**rest, "train/global_step": state.global_step})
