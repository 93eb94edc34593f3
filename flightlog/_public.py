"""The public names `flightlog/__init__.py` gives that live in the write path's modules:
imported with `import flightlog` (a training script pays for pyarrow there, not at its first
`init()` or `log()`), or at their first use in the `flightlog` command, which needs none of
them to list or show runs."""

# ruff: noqa: F401
from ._histogram import Histogram
from ._init import init
from ._run import Run
from ._run_compat import AlertLevel
from ._summary import MetricDef
from ._wandb_api import (
    alert,
    log_artifact,
    log_code,
    log_model,
    login,
    mark_preempting,
    require,
    setup,
    teardown,
    termerror,
    termlog,
    termwarn,
    unwatch,
    use_artifact,
    use_model,
    watch,
)
from ._wandb_settings import Settings
from .artifacts import Artifact
from .media import Audio, Html, Image, Molecule, Object3D, Plotly, Table, Video, plot
