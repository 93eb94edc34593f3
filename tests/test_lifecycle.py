"""reinit, `with run:`, resume, disabled mode, settings from the environment."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script, spawn


def test_second_init_returns_the_current_run_by_default() -> None:
    a = flightlog.init()
    b = flightlog.init(project="other")
    assert a is b and flightlog.run is a


def test_reinit_true_finishes_the_previous_run(api: flightlog.Api) -> None:
    a = flightlog.init()
    a.log({"x": 1})
    b = flightlog.init(reinit=True)
    assert a is not b and flightlog.run is b
    assert api.run(a.path).state == "finished"
    assert api.run(b.path).state == "running"


def test_reinit_create_new_keeps_both_alive_and_the_global_run(api: flightlog.Api) -> None:
    a = flightlog.init()
    b = flightlog.init(reinit="create_new")
    a.log({"x": 1})
    b.log({"y": 2})
    flightlog.log({"x": 3})  # module-level log still goes to the first run
    assert flightlog.run is a
    assert api.run(b.path).state == "running"
    a.finish(quiet=True)
    b.finish(quiet=True)
    assert [r["x"] for r in api.run(a.path).scan_history()] == [1, 3]
    assert [r["y"] for r in api.run(b.path).scan_history()] == [2]


def test_with_block_marks_failed_keeps_traceback_and_reraises(api: flightlog.Api) -> None:
    run = flightlog.init()
    with pytest.raises(ZeroDivisionError), run:
        run.log({"x": 1})
        1 / 0  # noqa: B018
    stored = api.run(run.path)
    assert stored.state == "failed"
    assert "ZeroDivisionError" in stored.error and "Traceback" in stored.error
    assert [r["x"] for r in stored.scan_history()] == [1]
    assert flightlog.run is None


def test_finish_with_nonzero_exit_code_is_failed(api: flightlog.Api) -> None:
    run = flightlog.init()
    flightlog.finish(exit_code=3)
    assert api.run(run.path).state == "failed"


def test_run_id_is_8_chars_and_user_ids_are_validated() -> None:
    run = flightlog.init()
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)
    with pytest.raises(ValueError, match=r"invalid run id '../x'"):
        flightlog.init(id="../x", reinit=True)
    with pytest.raises(ValueError, match="invalid project name 'a/b'"):
        flightlog.init(project="a/b", reinit=True)


def test_resume_allow_continues_steps_config_and_summary(api: flightlog.Api) -> None:
    run = flightlog.init(id="myrun", config={"lr": 0.1})
    for i in range(5):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    again = flightlog.init(id="myrun", resume="allow", config={"epochs": 2})
    assert again.step == 5 and again.name == run.name
    assert again.config.lr == 0.1 and again.config.epochs == 2
    assert again.summary["loss"] == 4.0
    again.log({"loss": 10.0})
    again.finish(quiet=True)
    stored = api.run("myrun")
    assert [r["_step"] for r in stored.scan_history()] == list(range(6))
    assert stored.state == "finished"
    assert stored.meta["resumed"] == 1


def test_resume_never_and_must(store: Path) -> None:
    flightlog.init(id="r1").finish(quiet=True)
    with pytest.raises(flightlog.ResumeError, match=r"already exists.*resume='allow'"):
        flightlog.init(id="r1")
    with pytest.raises(flightlog.ResumeError, match="already exists"):
        flightlog.init(id="r1", resume="never")
    with pytest.raises(flightlog.ResumeError, match="does not exist"):
        flightlog.init(id="nope", resume="must")
    run = flightlog.init(id="r1", resume="must")
    assert run.id == "r1"


def test_disabled_mode_writes_nothing(store: Path) -> None:
    run = flightlog.init(mode="disabled", config={"lr": 1})
    run.log({"x": 1})
    run.config.epochs = 3
    assert run.config.lr == 1
    run.finish()
    assert not store.exists()


def test_environment_settings_and_wandb_twins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "from-wandb")
    monkeypatch.setenv("FLIGHTLOG_RUN_GROUP", "g1")
    monkeypatch.setenv("WANDB_RUN_GROUP", "ignored-twin")
    monkeypatch.setenv("FLIGHTLOG_TAGS", "a, b")
    monkeypatch.setenv("WANDB_JOB_TYPE", "eval")
    monkeypatch.setenv("FLIGHTLOG_NOTES", "hello")
    monkeypatch.setenv("FLIGHTLOG_NAME", "named")
    monkeypatch.setenv("FLIGHTLOG_RUN_ID", "envid")
    run = flightlog.init()
    assert (run.project, run.group, run.tags, run.job_type, run.notes, run.name, run.id) == (
        "from-wandb",
        "g1",
        ("a", "b"),
        "eval",
        "hello",
        "named",
        "envid",
    )
    run.finish(quiet=True)
    explicit = flightlog.init(project="explicit", id="other", reinit=True)
    assert explicit.project == "explicit"  # explicit arguments win


def test_wandb_dir_means_a_flightlog_folder_inside_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FLIGHTLOG_DIR")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "w"))
    run = flightlog.init()
    assert Path(run.dir).is_relative_to(tmp_path / "w" / "flightlog" / "runs")


def test_default_store_is_dot_flightlog(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FLIGHTLOG_DIR")
    run = flightlog.init(project="p")
    assert Path(run.dir).resolve() == (tmp_path / "flightlog" / "runs" / "p" / run.id).resolve()


def test_mode_env_and_bad_mode(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert flightlog.init().disabled
    flightlog.finish()
    with pytest.raises(flightlog.UsageError, match="unknown mode 'cloud'"):
        flightlog.init(mode="cloud")


def test_init_prints_one_line_and_finish_a_summary(capsys, monkeypatch) -> None:
    monkeypatch.delenv("FLIGHTLOG_SILENT")
    run = flightlog.init(project="p")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and run.name in err[0] and run.id in err[0]
    assert f"flightlog show {run.id}" in err[0]
    run.log({"loss": 0.5})
    run.finish()
    out = capsys.readouterr().err
    assert "finished" in out and "loss 0.5" in out


def test_online_mode_says_once_it_stores_offline(capsys, monkeypatch) -> None:
    monkeypatch.delenv("FLIGHTLOG_SILENT")
    flightlog._init._noted.clear()
    flightlog.init(mode="online").finish(quiet=True)
    flightlog.init(mode="online").finish(quiet=True)
    assert capsys.readouterr().err.count("stored offline") == 1


def test_unknown_init_argument_is_a_typeerror() -> None:
    with pytest.raises(TypeError, match=r"unexpected argument.*bogus"):
        flightlog.init(bogus=1)
    flightlog.init(save_code=True, sync_tensorboard=False).finish(quiet=True)


def test_silent_env(capsys) -> None:
    assert os.environ["FLIGHTLOG_SILENT"] == "1"
    flightlog.init().finish()
    assert capsys.readouterr().err == ""


def test_a_thread_that_cannot_start_costs_no_row(api: flightlog.Api) -> None:
    """init() starts its threads in the background; one that cannot start (the interpreter
    is exiting, or out of threads) is said once, and finish() writes every row itself."""
    res = python_script("""
        import flightlog
        from flightlog.store.writer import RunWriter
        def refuse(self):
            raise RuntimeError("can't start new thread")
        RunWriter.start = refuse
        run = flightlog.init(project="p", id="t1")
        for i in range(100):
            run.log({"x": i})
        run._wait_context(60)  # the background start has tried (finish() might come first)
        run.finish()
    """)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("could not start a background thread") == 1, res.stderr
    assert [r["x"] for r in api.run("p/t1").scan_history()] == list(range(100))


def test_a_thread_start_failing_with_oserror_is_said_once_and_keeps_nothing_waiting(
    api: flightlog.Api,
) -> None:
    """Starting a thread can fail otherwise than with RuntimeError (OSError: EAGAIN when the
    process is out of threads; MemoryError). The background start then says so once, still
    records the run's context, and sets what finish() waits for (before, the error ended
    the background thread: finish() waited 10 s, and packages and git were never recorded)."""
    res = python_script(
        """
        import threading
        import flightlog
        def refuse(self):
            raise OSError(11, "Resource temporarily unavailable")
        threading.Thread.start = refuse  # every thread start, as when out of threads
        run = flightlog.init(project="p", id="t3")
        for i in range(100):
            run.log({"x": i})
        assert run._context_done.wait(60), "the background start never ended"
        run.finish()
    """,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("could not start a background thread") == 1, res.stderr
    assert "Resource temporarily unavailable" in res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    run = api.run("p/t3")
    assert run.state == "finished"
    assert [r["x"] for r in run.scan_history()] == list(range(100))
    assert run.meta["packages"] > 0  # the context was still recorded


def test_finish_cleans_up_itself_when_no_thread_can_start(api: flightlog.Api) -> None:
    """finish() leaves removing the journals to a thread it does not wait for; when no
    thread can start, it does that itself (no traceback, no journal left behind)."""
    res = python_script("""
        import _thread
        import flightlog
        run = flightlog.init(project="p", id="t4")
        for i in range(100):
            run.log({"x": i})
        run._wait_context(60)
        def refuse(*args):
            raise RuntimeError("can't start new thread")
        _thread.start_new_thread = refuse
        run.finish()
    """)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    run = api.run("p/t4")
    assert run.state == "finished"
    assert [r["x"] for r in run.scan_history()] == list(range(100))
    assert not list((run.dir / "history").glob("*.journal"))


def test_a_script_that_ends_while_its_threads_start_warns_nothing(api: flightlog.Api) -> None:
    """Python 3.12+ refuses new threads once the main thread has ended; a script that ends
    right after init() can reach the background start then. The exit hook finishes the run
    and writes every row, so nothing is said. (Simulated here on any Python: the writer
    thread's start waits for the main thread to end, then is refused as 3.12 refuses it.)"""
    res = python_script("""
        import threading
        import flightlog
        from flightlog.store.writer import RunWriter
        entered = threading.Event()
        def start_at_exit(self):
            entered.set()
            threading.main_thread().join(60)  # returns once the script has ended
            raise RuntimeError("can't create new thread at interpreter shutdown")
        RunWriter.start = start_at_exit
        run = flightlog.init(project="p", id="t2")
        print("hello")
        for i in range(100):
            run.log({"x": i})
        assert entered.wait(60)
    """)
    assert res.returncode == 0, res.stderr
    assert "could not start" not in res.stderr, res.stderr
    run = api.run("p/t2")
    assert run.state == "finished"
    assert [r["x"] for r in run.scan_history()] == list(range(100))
    assert "hello" in (run.dir / "files" / "output.log").read_text()


def test_a_forked_child_records_nothing_into_its_parents_run(api: flightlog.Api) -> None:
    """A forked child shares its parent's journal mapping: its log() landed there, and when
    the parent then died the child's rows were recovered as the parent's steps. Now the
    child's log() says once that it is not recorded, its print() is not copied, and the
    parent's run holds exactly the parent's rows and output."""
    proc = spawn("""
        import os, sys, time, flightlog
        run = flightlog.init(project="p", id="f1")
        for i in range(5):
            run.log({"x": i})
        print("parent says", flush=True)
        pid = os.fork()
        if pid == 0:
            print("child says", flush=True)
            for i in range(3):
                run.log({"child": i})
            sys.stderr.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        print("ready", file=sys.stderr, flush=True)
        time.sleep(120)
    """)
    try:
        err = []
        for line in proc.stderr:
            err.append(line)
            if line == "ready\n":
                break
        run = api.run("p/f1")
        deadline = time.monotonic() + 60  # the parent's writer thread writes its output copy
        out = run.dir / "files" / "output.log"
        while not (out.exists() and "parent says" in out.read_text()):
            assert time.monotonic() < deadline, "".join(err)
            time.sleep(0.2)
    finally:
        proc.kill()  # kill -9: the run is recovered from its journal
        proc.wait()
    rows = list(api.run("p/f1").scan_history())
    assert [(r["_step"], r.get("x"), r.get("child")) for r in rows] == [
        (i, i, None) for i in range(5)
    ]
    assert "log() in this forked process is not recorded" in "".join(err)
    assert "child says" not in out.read_text()
