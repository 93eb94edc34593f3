"""`history(pandas=True)` gives a media key's cells as wandb's dicts, loadable (MediaRef); a
key that logged an image and then a number gave the image as its JSON text instead: the
union of the mixed key held media as plain strings, so nothing told them from a logged
string."""

from __future__ import annotations

import numpy as np
import pytest

import flightlog
from flightlog.store.media_ref import MediaRef

from .conftest import settled


def test_a_media_cell_of_a_mixed_key_is_loadable_in_the_dataframe(api: flightlog.Api) -> None:
    pytest.importorskip("pandas")
    run = flightlog.init(project="p")
    run.log({"x": flightlog.Image(np.zeros((4, 4), np.uint8))})
    run.log({"x": 0.5})
    run.log({"x": '{"_type": "a string"}'})
    run.finish()
    settled()
    cells = api.run(f"p/{run.id}").history(pandas=True)["x"].tolist()
    assert isinstance(cells[0], MediaRef) and cells[0]["_type"] == "image-file"
    assert cells[0].load().shape[:2] == (4, 4)
    assert cells[1:] == [0.5, '{"_type": "a string"}']  # a logged string stays one
