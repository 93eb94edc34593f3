"""resume="must" (or WANDB_RESUME=must) without a run id: the error says an id is needed and
how to give one, instead of "run None does not exist". Found by the session-13 breaker."""

from __future__ import annotations

import pytest

import flightlog
from flightlog._errors import ResumeError


def test_resume_must_without_an_id_asks_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_RESUME", "must")
    with pytest.raises(ResumeError) as raised:
        flightlog.init(project="p")
    message = str(raised.value)
    assert "None" not in message
    assert "id=" in message and "WANDB_RUN_ID" in message
