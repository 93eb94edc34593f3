"""Config values that are classes (`dtype=np.float32`, a model class): kept as their name,
as any other object is, instead of failing init(). Found by the session-13 breaker."""

from __future__ import annotations

import numpy as np

import flightlog

from .conftest import settled


def test_a_numpy_dtype_class_in_the_config_is_stored(api: flightlog.Api) -> None:
    run = flightlog.init(project="p", config={"dtype": np.float32, "lr": 0.1})
    run.config.update({"array_type": np.ndarray})
    run.finish()
    settled()
    config = api.run(f"p/{run.id}").config
    assert config["lr"] == 0.1
    assert "float32" in config["dtype"]
    assert "ndarray" in config["array_type"]
