"""`FlightlogTracker`: an Accelerate tracker logging to flightlog.

acc = Accelerator(log_with=FlightlogTracker("my-project"))
acc.init_trackers("my-project", config={...})

It has WandBTracker's methods (log, log_images, log_table), so code calling them through
`acc.get_tracker(...)` runs on either.
"""

from __future__ import annotations

from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process

import flightlog


class FlightlogTracker(GeneralTracker):
    """`run_name` is the project (as Accelerate's wandb tracker); `init_kwargs` go to init().

    Building one touches no distributed state: it is built before the Accelerator it is
    given to, and `on_main_process` here set up accelerate's PartialState first, so that
    `Accelerator(cpu=True)` under torchrun made every rank rank 0 of 1 (no DDP, a run per
    rank) and ignored its kwargs_handlers. The run starts in `start()`, on the main process,
    as accelerate's own trackers do."""

    name = "flightlog"
    requires_logging_directory = False

    def __init__(self, run_name: str, **init_kwargs: Any) -> None:
        super().__init__()
        self.run_name = run_name
        self.init_kwargs = init_kwargs
        self.run: flightlog.Run | None = None

    @on_main_process
    def start(self) -> None:
        self.run = flightlog.init(project=self.run_name, **self.init_kwargs)

    @property
    def tracker(self) -> flightlog.Run | None:
        return self.run

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self.run.config.update(values, allow_val_change=True)

    @on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self.run.log(values, step=step, **kwargs)

    @on_main_process
    def log_images(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        """Each key's list of images (arrays, tensors, PIL images), as WandBTracker's."""
        images = {k: [flightlog.Image(image) for image in v] for k, v in values.items()}
        self.run.log(images, step=step, **kwargs)

    @on_main_process
    def log_table(
        self,
        table_name: str,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
        **kwargs: Any,
    ) -> None:
        table = flightlog.Table(columns=columns, data=data, dataframe=dataframe)
        self.run.log({table_name: table}, step=step, **kwargs)

    @on_main_process
    def finish(self) -> None:
        self.run.finish()
