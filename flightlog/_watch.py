"""`run.watch(model)`: parameter and gradient histograms of a torch model every `log_freq`
training steps, logged through the ordinary histogram path (as wandb's `watch`).

A step is a forward call of the watched model in training mode. On every `log_freq`-th one the
parameters are logged, and a hook on each parameter logs its gradient once that step's backward
pass produces it. Values go into the pending row (`commit=False`), so they land on the same step
as the metrics the script logs next. torch is never imported here: the model brings it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import UsageError
from ._histogram import Histogram

if TYPE_CHECKING:
    from ._run import Run

KINDS = {"gradients": (False, True), "parameters": (True, False), "all": (True, True)}


def _histogram(tensor: Any, bins: int = 64) -> Histogram:
    import numpy as np

    values = tensor.detach().float().cpu().numpy().ravel()
    values = values[np.isfinite(values)]
    return Histogram(np_histogram=np.histogram(values, bins=bins))


class Watch:
    """The hooks of one watched model; `remove()` takes them all off."""

    def __init__(self, run: Run, model: Any, log: str | None, log_freq: int, prefix: str) -> None:
        if log is not None and log not in KINDS:
            raise UsageError(f"watch(log={log!r}): use 'gradients', 'parameters', 'all' or None")
        if not hasattr(model, "named_parameters") or not hasattr(model, "register_forward_hook"):
            raise UsageError(
                f"watch() takes a torch.nn.Module, got {type(model).__name__}: pass your model"
            )
        if int(log_freq) < 1:
            raise UsageError(f"watch(log_freq={log_freq!r}): use a positive number of steps")
        self.run, self.model, self.log_freq, self.prefix = run, model, int(log_freq), prefix
        self.params, self.grads = KINDS[log] if log else (False, False)
        self.calls = 0
        self.due = False  # this step's gradients are to be logged
        self.handles = [model.register_forward_hook(self._forward)]
        if self.grads:
            for name, p in model.named_parameters():
                if p.requires_grad:
                    self.handles.append(p.register_hook(self._grad_hook(name)))

    def _forward(self, module: Any, _inputs: Any, _output: Any) -> None:
        if not module.training:
            return
        self.calls += 1
        self.due = self.calls % self.log_freq == 0
        if self.due and self.params:
            row = {
                f"parameters/{self.prefix}{n}": _histogram(p) for n, p in module.named_parameters()
            }
            self.run.log(row, commit=False)

    def _grad_hook(self, name: str) -> Any:
        def hook(grad: Any) -> None:
            if self.due:
                self.run.log({f"gradients/{self.prefix}{name}": _histogram(grad)}, commit=False)

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
