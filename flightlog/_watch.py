"""`run.watch(model)`: parameter and gradient histograms of a torch model every `log_freq`
training steps, logged through the ordinary histogram path (as wandb's `watch`).

As in wandb, each hook counts its own calls: a parameter's gradient is logged on every
`log_freq`-th backward pass that reaches it, and a module's parameters on every `log_freq`-th
forward call of the submodule that owns them in training mode (Lightning calls submodules,
never the watched module itself). Values go into the pending row (`commit=False`), so they
land on the step of the metrics the script logs next. torch is never imported here.
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
        if not hasattr(model, "named_modules") or not hasattr(model, "register_forward_hook"):
            raise UsageError(
                f"watch() takes a torch.nn.Module, got {type(model).__name__}: pass your model"
            )
        if int(log_freq) < 1:
            raise UsageError(f"watch(log_freq={log_freq!r}): use a positive number of steps")
        self.run, self.model, self.log_freq, self.prefix = run, model, int(log_freq), prefix
        params, grads = KINDS[log] if log else (False, False)
        self.handles: list[Any] = []
        for mod_name, module in model.named_modules():
            own = [
                (f"{mod_name}.{n}" if mod_name else n)
                for n, _ in module.named_parameters(recurse=False)
            ]
            if params and own:
                self.handles.append(module.register_forward_hook(_Hook(self, own, "parameters")))
            if grads:
                for (_n, p), name in zip(module.named_parameters(recurse=False), own, strict=True):
                    if p.requires_grad:
                        self.handles.append(p.register_hook(_Hook(self, [name], "gradients")))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


class _Hook:
    """One forward hook (a module's own parameters) or gradient hook (one parameter), logging
    every `log_freq`-th call. A copy of the model (deepcopy, pickle for spawn workers) gets a
    hook that does nothing: the copy is not the watched model."""

    def __init__(self, watch: Watch, names: list[str], kind: str) -> None:
        self.watch, self.names, self.kind, self.calls = watch, names, kind, 0

    def __call__(self, *args: Any) -> None:
        w = self.watch
        if self.kind == "parameters":
            module = args[0]
            if not module.training:
                return
        self.calls += 1
        if self.calls % w.log_freq:
            return
        if self.kind == "parameters":
            tensors = [p for _n, p in args[0].named_parameters(recurse=False)]
        else:
            tensors = [args[0]]
        row = {
            f"{self.kind}/{w.prefix}{n}": _histogram(t)
            for n, t in zip(self.names, tensors, strict=True)
        }
        w.run.log(row, commit=False)

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _unwatched, ()


def _unwatched() -> Any:
    return _noop


def _noop(*_args: Any) -> None:
    return None
