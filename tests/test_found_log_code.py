"""`run.log_code(".")` from a project directory that also holds the default store
(`./flightlog`) keeps the project's code, not the store's own copies of earlier runs' code.

Found by the breaker session: each run copied every earlier run's `files/` tree into its
own, so the store doubled with every run (run N held 2**N copies of train.py)."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import python_script

SCRIPT = """
    import flightlog
    run = flightlog.init(project="code")
    run.log_code(".")
    run.log({"loss": 1.0})
    run.finish()
    print(run.id)
"""


def test_log_code_leaves_out_the_store_under_the_code(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "train.py").write_text("print('train')\n")
    (project / "src" / "model.py").write_text("print('model')\n")
    env = {"FLIGHTLOG_DIR": ""}  # the default store: ./flightlog, inside the code's directory
    ids = []
    for _ in range(3):
        res = python_script(SCRIPT, env=env, cwd=project)
        assert res.returncode == 0, res.stderr
        ids.append(res.stdout.split()[-1])
    api = flightlog.Api(project / "flightlog")
    for run_id in ids:
        kept = sorted(f.name for f in api.run(run_id).files() if f.name.endswith(".py"))
        assert kept == ["src/model.py", "train.py"], kept
    copies = list((project / "flightlog").rglob("train.py"))
    assert len(copies) == 3, [str(p.relative_to(project)) for p in copies]
