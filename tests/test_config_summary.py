"""run.config and run.summary / define_metric."""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pytest

import flightlog


def test_config_attribute_item_update_and_persistence(api: flightlog.Api) -> None:
    run = flightlog.init(config={"lr": 0.1, "layers": [64, 64]})
    run.config.batch = 32
    run.config["opt"] = "adam"
    run.config.update({"dropout": np.float32(0.5)})
    assert run.config.lr == 0.1 and run.config["batch"] == 32 and flightlog.config.opt == "adam"
    assert run.config.dropout == 0.5 and type(run.config.dropout) is float
    deadline = time.time() + 60
    while api.run(run.path).config.get("dropout") != 0.5 and time.time() < deadline:
        time.sleep(0.05)  # persisted by the writer thread within a flush interval
    assert api.run(run.path).config == {
        "lr": 0.1,
        "layers": [64, 64],
        "batch": 32,
        "opt": "adam",
        "dropout": 0.5,
    }


def test_changing_a_key_needs_allow_val_change() -> None:
    run = flightlog.init(config={"lr": 0.1})
    run.config.update({"lr": 0.1})  # same value: fine
    with pytest.raises(flightlog.ConfigError, match=r"'lr' is already 0.1.*allow_val_change"):
        run.config.lr = 0.2
    with pytest.raises(flightlog.ConfigError):
        run.config.update({"lr": 0.3})
    assert run.config.lr == 0.1
    run.config.update({"lr": 0.3}, allow_val_change=True)
    assert run.config.lr == 0.3


def test_config_from_argparse_namespace_and_include_exclude(api: flightlog.Api) -> None:
    ns = argparse.Namespace(lr=0.01, epochs=3, secret="x")
    run = flightlog.init(config=ns, config_exclude_keys=["secret"])
    run.finish(quiet=True)
    assert api.run(run.path).config == {"lr": 0.01, "epochs": 3}


def test_missing_config_attribute_names_the_keys() -> None:
    run = flightlog.init(config={"lr": 0.1})
    with pytest.raises(AttributeError, match=r"no key 'momentum'.*lr"):
        run.config.momentum  # noqa: B018


def test_summary_is_last_value_by_default(api: flightlog.Api) -> None:
    run = flightlog.init()
    for i in range(10):
        run.log({"loss": 10.0 - i, "acc": i / 10})
    assert run.summary["loss"] == 1.0 and run.summary.acc == 0.9
    assert flightlog.summary["loss"] == 1.0
    run.finish(quiet=True)
    s = api.run(run.path).summary
    assert s["loss"] == 1.0 and s["acc"] == 0.9 and s["_step"] == 9


def test_define_metric_min_max_mean_none_and_globs(api: flightlog.Api) -> None:
    run = flightlog.init()
    run.define_metric("loss", summary="min")
    run.define_metric("val/*", summary="max")
    run.define_metric("lr", summary="mean")
    run.define_metric("noise", summary="none")
    run.define_metric("val/loss", summary="min")  # exact name beats the glob
    values = [3.0, 1.0, float("nan"), 2.0]
    for i, v in enumerate(values):
        run.log(
            {
                "loss": v,
                "val/acc": [0.5, 0.9, 0.7, 0.8][i],
                "val/loss": v,
                "lr": float(i),
                "noise": i,
            }
        )
    run.finish(quiet=True)
    s = api.run(run.path).summary
    assert s["loss"] == 1.0  # NaN (a diverged step) does not become the best value
    assert s["val/acc"] == 0.9
    assert s["val/loss"] == 1.0
    assert s["lr"] == 1.5
    assert "noise" not in s
    assert api.run(run.path).meta["metrics"][0] == {"name": "loss", "summary": "min"}


def test_define_metric_rejects_unknown_summary() -> None:
    run = flightlog.init()
    with pytest.raises(flightlog.UsageError, match="use one of min, max"):
        run.define_metric("loss", summary="median")


def test_summary_override_wins_and_persists(api: flightlog.Api) -> None:
    run = flightlog.init()
    run.log({"acc": 0.5})
    run.summary["acc"] = 0.99
    run.summary.update({"best_epoch": 3})
    run.log({"acc": 0.6})
    assert run.summary["acc"] == 0.99
    run.finish(quiet=True)
    s = api.run(run.path).summary
    assert s["acc"] == 0.99 and s["best_epoch"] == 3


def test_nan_summary_reads_back_as_nan(api: flightlog.Api) -> None:
    run = flightlog.init()
    run.log({"loss": float("nan")})
    run.finish(quiet=True)
    assert math.isnan(api.run(run.path).summary["loss"])
