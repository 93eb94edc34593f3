"""What `import wandb` gives when flightlog is the `wandb` alias (see flightlog._wandb_install).

The shim package written into site-packages is one line calling `install()`, so everything it
exposes lives here, versioned with flightlog: wandb's module-level names, and the submodules
the integrations import by path (`wandb.sdk.lib.config_util`, `wandb.wandb_run`,
`wandb.errors`, ...) registered in `sys.modules` under wandb's names.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

#: the version the alias reports: new enough for every integration's check (Lightning needs
#: >= 0.12.10); "+flightlog" marks it in `pip list` and importlib.metadata
WANDB_VERSION = "0.22.0+flightlog"


def _module(name: str, doc: str, **names: Any) -> ModuleType:
    m = ModuleType(name, doc)
    m.__dict__.update(names)
    sys.modules[name] = m
    return m


def install(namespace: dict[str, Any]) -> Any:
    """Fill the shim package's namespace; return its module `__getattr__` (wandb.run, ...)."""
    import flightlog
    from flightlog import _errors, _names
    from flightlog._run import Run
    from flightlog._wandb_api import _attach

    pkg = namespace["__name__"]
    for name in flightlog.__all__:
        namespace[name] = getattr(flightlog, name)
    errors = _module(
        f"{pkg}.errors",
        "wandb.errors: wandb's exception names over flightlog's.",
        Error=_errors.Error,
        CommError=_errors.SyncError,
        AuthenticationError=_errors.NotLoggedInError,
        UsageError=_errors.UsageError,
        UnsupportedError=_errors.UnsupportedError,
    )
    config_util = _module(f"{pkg}.sdk.lib.config_util", "", ConfigError=_errors.ConfigError)
    lib = _module(f"{pkg}.sdk.lib", "", RunDisabled=Run, config_util=config_util)
    wandb_run = _module(f"{pkg}.wandb_run", "", Run=Run)
    settings = _module(f"{pkg}.sdk.wandb_settings", "", Settings=flightlog.Settings)
    sdk = _module(
        f"{pkg}.sdk",
        "",
        lib=lib,
        wandb_run=wandb_run,
        wandb_settings=settings,
        Settings=flightlog.Settings,
        init=init,
    )
    sys.modules[f"{pkg}.sdk.wandb_run"] = wandb_run
    util = _module(f"{pkg}.util", "", generate_id=lambda length=8: _names.new_run_id())
    namespace.update(
        __version__=WANDB_VERSION,
        errors=errors,
        sdk=sdk,
        wandb_run=wandb_run,
        util=util,
        Error=_errors.Error,
        _attach=_attach,
        init=init,
        # wandb's own names for what flightlog has under another or no name
        agent=_no_sweeps,
        sweep=_no_sweeps,
    )
    return flightlog.__getattr__


#: wandb's names `import flightlog as wandb` gives too, as the alias does (`wandb_name`)
WANDB_NAMES = frozenset({"errors", "sdk", "wandb_run", "util", "agent", "sweep"})
_built: dict[str, Any] = {}


def wandb_name(name: str) -> Any:
    """One of WANDB_NAMES for `import flightlog as wandb`: a resume script's
    `wandb.util.generate_id()`, an `except wandb.errors.CommError:`. Built once, as
    `install()` builds them for the alias, under a private package name."""
    if not _built:
        _built["__name__"] = "flightlog._wandb"
        install(_built)
    return _built[name]


def init(*args: Any, dir: Any = None, **kwargs: Any) -> Any:
    """`wandb.init()` with wandb's meaning of `dir=D`: D holds the tracker's folder, as
    WANDB_DIR=D does, so the store is D/flightlog, unless FLIGHTLOG_DIR names the store
    (Lightning passes its save_dir, "." by default, on every run)."""
    import os

    import flightlog

    if dir is not None and not os.environ.get("FLIGHTLOG_DIR"):
        kwargs["dir"] = os.path.join(os.fspath(dir), "flightlog")
    return flightlog.init(*args, **kwargs)


def _no_sweeps(*_args: Any, **_kwargs: Any) -> Any:
    from flightlog._errors import UnsupportedError

    raise UnsupportedError(
        "wandb sweeps need wandb's server; flightlog runs no sweep controller. Drive the search "
        "with a loop, Optuna or Ray Tune and call flightlog.init() per trial"
    )
