"""wandb's API surface beyond init/log/finish, as real scripts and integrations call it:
each does the real thing, or a documented equivalent that keeps what it was given."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import pytest

import flightlog as wandb

from .conftest import python_script


def _meta(run: wandb.Run) -> dict:
    return json.loads((Path(run.dir) / "run.json").read_text())


def test_settings_take_wandbs_field_names_and_say_once_what_they_ignore() -> None:
    with pytest.warns(RuntimeWarning, match="'start_method' has no meaning") as caught:
        s = wandb.Settings(
            run_name="n", run_tags=("a",), root_dir="d", x_disable_stats=True, start_method="fork"
        )
        wandb.Settings(start_method="thread")  # the same field again: not said again
    assert len([w for w in caught if "start_method" in str(w.message)]) == 1
    assert (s.name, s.tags, s.dir, s.stats_interval) == ("n", ("a",), "d", 0)
    with pytest.raises(TypeError, match=r"'run_nmae'.*neither a flightlog nor a wandb setting"):
        wandb.Settings(run_nmae="typo")


def test_settings_from_wandb_names_reach_the_run(store: Path) -> None:
    run = wandb.init(
        settings=wandb.Settings(run_name="from-settings", quiet=True, console="wrap_emu")
    )
    assert run.name == "from-settings"
    run.finish()


def test_a_settings_dict_with_wandbs_names_is_taken_like_settings(store: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = wandb.init(settings={"run_name": "from-dict", "show_emoji": False})
    assert run.name == "from-dict"
    assert [str(w.message) for w in caught if "show_emoji" in str(w.message)]
    run.finish()
    with pytest.raises(ValueError, match="flush_intervall"):
        wandb.init(settings={"flush_intervall": 1})


def test_bad_media_values_are_said_once_per_key_and_the_rest_of_the_row_is_kept(
    store: Path,
) -> None:
    run = wandb.init(project="m")
    with pytest.warns(RuntimeWarning, match="'img' is left out: Image got object"):
        run.log({"loss": 1.0, "img": wandb.Image(object()), "imgs": [wandb.Image(1)]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: no second warning
        run.log({"loss": 0.5, "img": wandb.Image(object())})
    wandb.log({"acc": 0.9, "t": wandb.Table(columns=["a"], data=[[1]])})
    run.finish()
    h = wandb.Api(store).run(run.path).history().to_pydict()
    assert h["loss"] == [1.0, 0.5, None] and h["acc"] == [None, None, 0.9]
    assert "img" not in h and "imgs" not in h
    assert json.loads(h["t"][2])["_type"] == "table-file"


def test_artifacts_are_kept_in_the_store_and_recorded_with_the_run(
    store: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"weights")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "config.json").write_text("{}")
    run = wandb.init(project="a")
    art = wandb.Artifact("model-x", type="model", metadata={"score": 0.5})
    art.add_file(str(ckpt), name="model.ckpt")
    art.add_dir(str(tmp_path / "dir"))
    run.log_artifact(art, aliases=["best"])
    ckpt.write_bytes(b"weights, epoch 2")
    wandb.log_artifact(str(ckpt), name="model-x", type="model")  # a second version
    wandb.log_model(str(ckpt), name="m2")
    used = run.use_artifact("model-x:best")
    run.finish()
    ckpt.unlink()  # gone from where it was (HF logs from a temporary directory)
    arts = _meta(run)["artifacts"]
    assert [(a["name"], a["version"]) for a in arts] == [
        ("model-x", "v0"),
        ("model-x", "v1"),
        ("m2", "v0"),
    ]
    assert arts[0]["aliases"] == ["latest", "best"] and arts[2]["type"] == "model"
    assert [(u["name"], u["version"]) for u in _meta(run)["used_artifacts"]] == [("model-x", "v0")]
    got = Path(used.download(tmp_path / "got"))
    assert (got / "model.ckpt").read_bytes() == b"weights"
    assert (got / "config.json").read_text() == "{}"
    assert used.metadata == {"score": 0.5}


def test_alert_label_preempting_are_kept_with_the_run(store: Path) -> None:
    run = wandb.init(project="x")
    wandb.alert(title="diverged", text="loss is NaN", level="WARN")
    wandb.alert(title="slow", text="epoch took 2 h", level=wandb.AlertLevel.INFO)
    run._label(code="transformers_trainer")
    wandb.mark_preempting()
    with pytest.raises(ValueError, match="alert level 'LOUD'"):
        run.alert("t", "x", level="LOUD")
    run.finish()
    meta = _meta(run)
    assert [(a["title"], a["text"], a["level"]) for a in meta["alerts"]] == [
        ("diverged", "loss is NaN", "WARN"),
        ("slow", "epoch took 2 h", "INFO"),
    ]
    assert meta["integration"] == {"code": "transformers_trainer"}
    assert meta["preempting"] > 0


def test_url_resumed_config_as_dict_and_requirements(store: Path) -> None:
    run = wandb.init(project="u", id="abc", config={"lr": 0.1})
    assert run.url == run.get_url() == run.dir and run.get_project_url() == str(
        Path(run.dir).parent
    )
    assert run.resumed is False and run.config.as_dict() == {"lr": 0.1}
    assert run.sweep_id is None  # (no sweeps: scripts test it to tell a trial apart)
    assert run.start_time > 0
    wandb.require("core")
    wandb.require("service")
    run.finish()
    again = wandb.init(project="u", id="abc", resume="allow")
    assert again.resumed is True
    again.finish()


def test_login_never_prompts_and_saves_a_given_key(tmp_path: Path) -> None:
    r = python_script(
        "import flightlog as wandb; print(wandb.login())", env={"FLIGHTLOG_SILENT": ""}
    )
    assert r.returncode == 0 and r.stdout.strip() == "False"
    assert "not signed in" in r.stderr and "flightlog login" in r.stderr
    with pytest.raises(wandb.Error, match="not signed in"):
        wandb.login(verify=True)
    assert wandb.login(key="k-secret") is True
    assert wandb.login() is True


def test_termwarn_repeat_false_says_it_once(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("FLIGHTLOG_SILENT")
    for _ in range(2):
        wandb.termwarn("run_name equals output_dir", repeat=False)
    wandb.termlog("hello")
    wandb.termerror("bad\nthing")
    err = capsys.readouterr().err
    assert err.count("run_name equals output_dir") == 1
    assert "flightlog: hello" in err and "flightlog: ERROR bad\nflightlog: ERROR thing" in err


def test_init_keys_flightlog_cannot_honour_are_said_and_save_code_keeps_the_script(
    store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import flightlog as wandb\n"
        "run = wandb.init(project='c', save_code=True, sync_tensorboard=True)\n"
        "run.finish(); print(run.dir)\n"
    )
    r = python_script(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')")
    assert r.returncode == 0, r.stderr
    assert "init(sync_tensorboard=...) is ignored" in r.stderr
    run_dir = Path(r.stdout.strip().splitlines()[-1])
    assert (run_dir / "files" / "train.py").read_text() == script.read_text()


def test_a_pickled_run_unpickles_as_the_same_run(store: Path) -> None:
    run = wandb.init(project="p")
    assert pickle.loads(pickle.dumps(run)) is run
    run.log({"a": 1})
    blob = pickle.dumps(run)
    r = python_script(
        f"import pickle; r = pickle.loads({blob!r}); r.log({{'b': 2}}); r.finish(); print(r.id)"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == run.id
    run.finish()
    h = wandb.Api(store).run(run.path).history().to_pydict()
    assert h["a"][0] == 1 and 2 in h["b"]


def test_watch_logs_gradient_and_parameter_histograms_every_log_freq_steps(store: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    run = wandb.init(project="w")
    wandb.watch(model, log="all", log_freq=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(7):
        loss = model(torch.randn(16, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})
        if step == 5:
            wandb.unwatch(model)
    model.eval()
    run.finish()
    h = wandb.Api(store).run(run.path).history().to_pydict()
    logged = [i for i, v in enumerate(h["gradients/0.weight"]) if v is not None]
    assert logged == [2, 5]  # the 3rd and 6th step; none after unwatch
    assert [i for i, v in enumerate(h["parameters/2.bias"]) if v is not None] == [2, 5]
    import copy

    copy.deepcopy(model)  # a watched model still copies (spawn workers pickle it)
    with pytest.raises(wandb.Error, match=r"torch\.nn\.Module"):
        run2 = wandb.init(project="w2")
        run2.watch(object())


def test_alerts_are_listed_by_the_cli_with_stored_text_escaped(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flightlog.cli import main

    run = wandb.init(project="al")
    run.alert("diverged\x1b[31m", "loss is NaN", level="ERROR")
    run.alert("slow", "epoch took 2h")
    run.finish()
    assert main(["alerts", "--root", str(store)]) == 0
    out = capsys.readouterr().out
    assert "ERROR" in out and "loss is NaN" in out and "epoch took 2h" in out
    assert "\x1b" not in out and run.path in out
    assert main(["alerts", "--root", str(store), "--level", "ERROR"]) == 0
    assert "epoch took 2h" not in capsys.readouterr().out
