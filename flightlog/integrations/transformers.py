"""`FlightlogCallback`: an HF `TrainerCallback` logging to flightlog, as `report_to="wandb"`
would (the same keys: `train/loss`, `eval/loss`, `train/global_step`, `test/...` from
`trainer.predict()`; arguments and the model config in `config`; the end-of-training numbers
in the summary; checkpoints as model artifacts when asked).

    Trainer(..., report_to="none", callbacks=[FlightlogCallback(project="my-project")])

`log_model` is wandb's WANDB_LOG_MODEL (read from FLIGHTLOG_LOG_MODEL or WANDB_LOG_MODEL when
not given): "checkpoint" logs each saved checkpoint directory as a version of the artifact
model-RUN (aliases `epoch_E`, `checkpoint_global_step_N`), "end" the final model, aliased
`final_model`. A job script that set it for wandb's callback used to get nothing, silently.
"""

from __future__ import annotations

import glob
import numbers
import os
import tempfile
from typing import Any

from transformers import TrainerCallback
from transformers.integrations.integration_utils import WandbLogModel, rewrite_logs

import flightlog
from flightlog._errors import ArtifactError
from flightlog.artifacts.names import check_artifact_name

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

    def __init__(self, log_model: str | None = None, **init_kwargs: Any) -> None:
        if log_model is None:
            log_model = os.getenv("FLIGHTLOG_LOG_MODEL", os.getenv("WANDB_LOG_MODEL", "false"))
        self.log_model = WandbLogModel(str(log_model).lower())
        self.init_kwargs = init_kwargs
        self.run: flightlog.Run | None = None

    def setup(self, args: Any, state: Any, model: Any) -> None:
        if not state.is_world_process_zero or self.run is not None:
            return
        kwargs = {"project": os.getenv("WANDB_PROJECT", "huggingface"), **self.init_kwargs}
        if args.run_name is not None and "name" not in kwargs and not state.is_hyper_param_search:
            kwargs["name"] = args.run_name  # (trials are named by flightlog, each its own)
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
        """Each trial of a hyperparameter search is a run of its own, as with wandb's
        callback (before, every trial went into the first one's run: steps restarting,
        the first trial's config)."""
        if state.is_hyper_param_search and self.run is not None:
            self.run.finish()
            self.run = None
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

    def on_predict(self, args: Any, state: Any, control: Any, metrics: Any, **kwargs: Any) -> None:
        self.setup(args, state, kwargs.get("model"))
        if self.run is not None and metrics:
            self.run.log(rewrite_logs(dict(metrics)))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.log_model is not WandbLogModel.CHECKPOINT or self.run is None:
            return
        step = state.global_step
        saved = _checkpoint_dir(args.output_dir, step)
        if saved is None:  # never raise in the Trainer's loop: say it once
            self.run._warn_once(
                "checkpoint", f"log_model: no checkpoint-{step} under {args.output_dir}"
            )
            return
        art = self._model_artifact(args)
        art.add_dir(saved)
        aliases = [f"epoch_{round(state.epoch or 0, 2)}", f"checkpoint_global_step_{step}"]
        self.run.log_artifact(art, aliases=aliases)

    def on_train_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if self.log_model is not WandbLogModel.END or self.run is None:
            return
        if not hasattr(model, "save_pretrained"):
            self.run._warn_once("log_model", "log_model='end': this model has no save_pretrained")
            return
        with tempfile.TemporaryDirectory() as saved:
            model.save_pretrained(saved)
            processor = kwargs.get("processing_class")
            if hasattr(processor, "save_pretrained"):
                processor.save_pretrained(saved)
            art = self._model_artifact(args, final_model=True)
            art.add_dir(saved)
            self.run.log_artifact(art, aliases=["final_model"])

    def _model_artifact(self, args: Any, **metadata: Any) -> flightlog.Artifact:
        """The next version of model-RUN_NAME (model-RUN_ID when the run was not named by
        `run_name`, or its name cannot name an artifact), with the summary's numbers."""
        run = self.run
        assert run is not None
        name = f"model-{run.id}"
        if args.run_name is not None and args.run_name != args.output_dir:
            try:
                name = check_artifact_name(f"model-{run.name}")
            except ArtifactError:
                pass
        numbers_ = {
            k: v
            for k, v in dict(run.summary).items()
            if isinstance(v, numbers.Number) and not k.startswith("_")
        }
        numbers_["model/num_parameters"] = run.config.get("model/num_parameters")
        return flightlog.Artifact(name, "model", metadata={**numbers_, **metadata})


def _checkpoint_dir(output_dir: str, step: int) -> str | None:
    """Where the Trainer saved the checkpoint of `step`: OUTPUT/checkpoint-N, or, in a
    hyperparameter search, OUTPUT/run-TRIAL/checkpoint-N (the newest, if several trials
    reached that step); None when there is none."""
    name = f"checkpoint-{step}"
    found = [os.path.join(output_dir, name), *glob.glob(os.path.join(output_dir, "run-*", name))]
    found = [d for d in found if os.path.isdir(d)]
    return max(found, key=os.path.getmtime) if found else None
