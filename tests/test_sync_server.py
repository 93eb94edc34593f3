"""The server, for real: login, sync of the seed's offline run, permissions, hostile input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flightlog
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials

from .conftest import cli, python_script
from .servers import LiveServer, server_rows

pytestmark = pytest.mark.slow


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(max_upload_mb=1)


def client(srv: LiveServer, key: str | None, retries: int = 0) -> ServerClient:
    return ServerClient(Credentials(srv.url, key, "file" if key else "none"), retries=retries)


def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        r = cli(*args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return r.returncode, r.stdout, r.stderr


SEED = """
import os
import flightlog as wandb

os.environ["WANDB_API_KEY"] = {key!r}
os.environ["WANDB_MODE"] = "dryrun"

config = {{"dataset": "CIFAR10", "machine": "offline cluster", "model": "CNN",
          "learning_rate": 0.01, "batch_size": 128}}

wandb.init(project="offline-demo", config=config)

for i in range(100):
    wandb.log({{"accuracy": i}})
print(wandb.run.dir)
"""


def test_login_good_key_is_stored_0600_and_never_printed(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    rc, out, err = run_cli("login", "--host", server.url, key, env={})
    assert rc == 0, err
    assert "logged in" in out and "alice" in out
    assert key not in out + err
    creds = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["keys"][server.url] == key
    rc, out, _ = run_cli("logout", env={})
    assert rc == 0 and server.url in out
    assert server.url not in json.loads(creds.read_text())["keys"]


def test_a_key_file_others_may_read_is_said_once_with_the_fix(server: LiveServer, tmp_path: Path):
    """A credentials.json copied with cp or out of a tarball keeps mode 0644: the key still
    works, and every command says once how to make it private again."""
    key = server.user("alice")
    assert run_cli("login", "--host", server.url, key, env={})[0] == 0
    creds = tmp_path / "config" / "credentials.json"
    creds.chmod(0o644)
    run = flightlog.init(project="p", mode="offline")
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    rc, out, err = run_cli("sync", "--all", env={})
    assert rc == 0, err
    said = [line for line in err.splitlines() if "other users may read it" in line]
    assert said == [
        f"flightlog: {creds} holds API keys and other users may read it (mode 644): "
        f"run `chmod 600 {creds}`"
    ]
    assert key not in out + err
    creds.chmod(0o600)
    assert "other users" not in run_cli("sync", "--all", env={})[2]


def test_login_where_the_key_cannot_be_stored_names_the_fix(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    blocked = tmp_path / "home-file"
    blocked.write_text("")  # the config dir's parent is a file: nothing can be made in it
    env = {"FLIGHTLOG_CONFIG_DIR": str(blocked / "flightlog")}
    rc, out, err = run_cli("login", "--host", server.url, key, env=env)
    assert rc == 1
    assert err.count("\n") == 1 and "flightlog: error: the key is good" in err, err
    assert "FLIGHTLOG_CONFIG_DIR" in err and "FLIGHTLOG_API_KEY" in err
    assert key not in out + err


def test_login_bad_key_is_refused_and_not_stored(server: LiveServer, tmp_path: Path):
    server.user("alice")
    rc, out, err = run_cli("login", "--host", server.url, "flk_not-a-real-key", env={})
    assert rc == 1
    assert "does not accept that API key" in err and "nothing was stored" in err
    assert "Traceback" not in err and "flk_not-a-real-key" not in out + err
    assert not (tmp_path / "config" / "credentials.json").exists()


def test_seed_offline_snippet_then_sync_of_its_run_directory(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    r = python_script(SEED.format(key=key))
    assert r.returncode == 0, r.stderr
    run_dir = Path(r.stdout.strip().splitlines()[-1])
    assert not (server.root / "runs").exists() or not any((server.root / "runs").iterdir())
    env = {"WANDB_API_KEY": key, "WANDB_BASE_URL": server.url}  # the wandb twins work too
    rc, out, err = run_cli("sync", str(run_dir), env=env)
    assert rc == 0, err
    assert "synced 1 run(s)" in out and "1 segment(s) sent" in out
    rows = server_rows(server.root, "alice", "offline-demo", run_dir.name)
    assert [r["accuracy"] for r in rows] == list(range(100))
    # a second sync resumes where the server is: nothing to send (one listing asks whether
    # the server still has the run)
    rc, out, _ = run_cli("sync", str(run_dir), env=env)
    assert rc == 0 and "0 segment(s) sent" in out
    rc, out, _ = run_cli("runs", env=env)
    assert "synced" in out
    # the server's directory is an ordinary store: the CLI reads it
    rc, out, _ = run_cli("runs", "--root", str(server.root), env={})
    assert rc == 0 and "alice.offline-demo" not in out
    header, line = out.splitlines()[:2]
    assert header.split()[2:4] == ["entity", "project"]
    assert line.split()[3:5] == ["alice", "offline-demo"]
    with client(server, key) as c:
        got = c.history("alice", "offline-demo", run_dir.name, keys=["accuracy"])
        assert [g["accuracy"] for g in got] == list(range(100))
        assert c.run("alice", "offline-demo", run_dir.name)["meta"]["config"]["model"] == "CNN"


def test_sync_names_the_fix_for_each_refusal(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    server.user("bob")
    r = python_script(
        "import flightlog\n"
        "for e in ('ghost', 'bob'):\n"
        "    run = flightlog.init(project='p', entity=e, reinit='create_new', mode='offline')\n"
        "    run.log({'x': 1}); run.finish()\n"
    )
    assert r.returncode == 0, r.stderr
    rc, out, err = run_cli("sync", "--all", env=server.env(key))
    assert rc == 1
    assert "entity 'ghost' does not exist" in out and "server user add" in out
    assert "no permission on project bob/p" in out and "--visibility" not in out
    assert "sync to your own entity ('alice')" in out
    rc, _, err = run_cli("sync", "--all", env=server.env(None))
    assert rc == 1 and "not signed in" in err and "flightlog login" in err
    # the data stays: nothing was lost by the refusals
    rc, out, _ = run_cli("runs", env={})
    assert out.count("local") == 2


def test_sync_with_the_server_down_fails_cleanly(tmp_path: Path):
    r = python_script("import flightlog\nrun = flightlog.init(project='p')\nrun.log({'x': 1})\n")
    assert r.returncode == 0, r.stderr
    env = {"FLIGHTLOG_API_KEY": "flk_x", "FLIGHTLOG_BASE_URL": "http://127.0.0.1:9"}
    rc, out, err = run_cli("sync", "--all", env=env)
    assert rc == 1
    assert "cannot reach http://127.0.0.1:9" in out and "nothing was lost" in out
    assert "Traceback" not in out + err


def test_synced_runs_are_not_failures_when_the_server_goes_down(server: LiveServer) -> None:
    key = server.user("alice")
    for _ in range(2):
        r = python_script("import flightlog\nflightlog.init(project='p').log({'x': 1})\n")
        assert r.returncode == 0, r.stderr
    rc, out, _ = run_cli("sync", "--all", env=server.env(key))
    assert rc == 0 and "synced 2 run(s)" in out, out
    server.stop()
    r = python_script("import flightlog\nflightlog.init(project='p').log({'x': 2})\n")
    assert r.returncode == 0, r.stderr
    rc, out, _ = run_cli("sync", "--all", env=server.env(key))
    assert rc == 1  # the new run could not go
    assert "synced 2 run(s)" in out and "1 failed" in out, out


# -- permissions ---------------------------------------------------------------------------


def _upload_run(c: ServerClient, entity: str, project: str, run_id: str, tmp_path: Path) -> None:
    meta = {
        "id": run_id,
        "name": "r",
        "created_at": 1.0,
        "config": {"lr": 1},
        "git": {"commit": "abc123", "remote": "git@example.com:x.git"},
        "command": ["python", "train.py", "--secret-flag"],
        "program": "train.py",
    }
    c.put_run(entity, project, run_id, meta, [{"writer": "w1", "state": "finished"}])
    path = _segment(tmp_path, [("loss", 0.5)])
    assert c.put_segment(entity, project, run_id, "history", path)


def _segment(
    tmp_path: Path,
    rows: list[tuple[str, float]],
    writer: str = "w1",
    seq: int = 1,
    schema: pa.Schema | None = None,
) -> Path:
    from flightlog.store.schema import HISTORY_SCHEMA, segment_schema

    schema = schema or segment_schema(writer, "")
    n = len(rows)
    if schema.names == HISTORY_SCHEMA.names:
        table = pa.table(
            {
                "step": list(range(n)),
                "time": pa.array([0] * n, pa.timestamp("us", "UTC")),
                "key": [k for k, _ in rows],
                "value": [v for _, v in rows],
                "kind": pa.array([0] * n, pa.int8()),
                "text": pa.array([None] * n, pa.string()),
            },
            schema=schema,
        )
    else:
        table = pa.table({"a": [v for _, v in rows]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    path = tmp_path / f"{writer}-{seq:06d}-{hashlib.sha256(data).hexdigest()}.parquet"
    path.write_bytes(data)
    return path


def test_permission_matrix(server: LiveServer, tmp_path: Path):
    keys = {u: server.user(u) for u in ("alice", "bob", "carol")}
    server.accounts.add_team("vision", ["alice", "bob"])
    with client(server, keys["alice"]) as c:
        _upload_run(c, "alice", "private", "r1", tmp_path)
        _upload_run(c, "vision", "private", "r2", tmp_path)
        _upload_run(c, "vision", "open", "r3", tmp_path)
    server.accounts.set_visibility("vision", "open", "open")

    def can(user: str | None, entity: str, project: str, run_id: str) -> dict[str, bool | None]:
        with client(server, keys.get(user)) as c:
            out: dict[str, bool | None] = {}
            try:
                meta = c.run(entity, project, run_id)["meta"]
                out["read"] = True
                out["git"] = "git" in meta and "command" in meta
                assert c.history(entity, project, run_id)[0]["loss"] == 0.5
                assert [r["id"] for r in c.runs(entity, project)] == [run_id]
            except Exception as e:
                out["read"] = False
                out["read_error"] = type(e).__name__  # type: ignore[assignment]
            try:
                c.put_run(entity, project, run_id, {"id": run_id, "name": "changed"}, [])
                out["write"] = True
            except Exception as e:
                out["write"] = False
                out["write_error"] = type(e).__name__  # type: ignore[assignment]
            return out

    # owner of a private user project
    assert can("alice", "alice", "private", "r1") == {"read": True, "git": True, "write": True}
    for other in ("bob", "carol"):
        got = can(other, "alice", "private", "r1")
        assert got["read"] is False and got["write"] is False
        # a private project does not exist for a non-member; writing says how to get in
        assert got["read_error"] == "NotFoundError"
        assert got["write_error"] == "PermissionDeniedError"
    # team project, private: members only
    assert can("bob", "vision", "private", "r2") == {"read": True, "git": True, "write": True}
    got = can("carol", "vision", "private", "r2")
    assert (got["read"], got["write"]) == (False, False)
    # team project, open: anyone signed in reads, without git and command; members write
    assert can("bob", "vision", "open", "r3") == {"read": True, "git": True, "write": True}
    got = can("carol", "vision", "open", "r3")
    assert got["read"] is True and got["git"] is False
    assert got["write"] is False and got["write_error"] == "PermissionDeniedError"
    with client(server, keys["carol"]) as c:
        listed = c.runs("vision", "open")[0]
        assert "git" not in listed
        meta = c.run("vision", "open", "r3")["meta"]
        assert "abc123" not in json.dumps(meta) and "--secret-flag" not in json.dumps(meta)
    # no key at all: nothing, and the message says to log in
    for entity, project, rid in (("alice", "private", "r1"), ("vision", "open", "r3")):
        got = can(None, entity, project, rid)
        assert got["read_error"] == got["write_error"] == "NotLoggedInError"
    # raw: an unknown key is a 401 JSON error
    r = httpx.get(f"{server.url}/api/v1/runs/vision/open", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401 and r.json()["error"] == "bad_key"


# -- hostile input -------------------------------------------------------------------------


def _tree(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name != "server.log" and not p.name.startswith("accounts.sqlite")
    }


def test_hostile_input_is_refused_with_nothing_stored(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    h = {"Authorization": f"Bearer {key}"}
    api = f"{server.url}/api/v1"
    with client(server, key) as c:
        _upload_run(c, "alice", "p", "r1", tmp_path)
    before = _tree(server.root)
    good = _segment(tmp_path, [("x", 1.0)], seq=2)
    seg_url = f"{api}/runs/alice/p/r1/segments/history"

    def put(url: str, body: bytes, **kw) -> httpx.Response:
        return httpx.put(url, content=body, headers=h, **kw)

    # traversal and bad names, in every position
    for url in (
        f"{api}/runs/alice/..%2F..%2Fetc/r1",
        f"{api}/runs/alice/p/..",
        f"{api}/runs/alice/p/r1%00x",
        f"{api}/runs/alice/p/r%0a1",
        f"{api}/runs/Alice/p/r1",
        f"{api}/runs/alice/{'p' * 300}/r1",
        f"{api}/runs/alice/.hidden/r1",
    ):
        r = put(url, json.dumps({"meta": {"id": "r1"}}).encode())
        assert 400 <= r.status_code < 500, url
        assert r.json().get("error") or r.json().get("detail"), url
    for name in (
        "..%2F..%2Fx.parquet",
        "w1-000002-" + "0" * 64 + ".parquet.tmp",
        "w1-000002.arrows",
    ):
        r = put(f"{seg_url}/{name}", good.read_bytes())
        assert 400 <= r.status_code < 500, name
    r = put(f"{api}/runs/alice/p/r1/segments/..%2Fhistory/{good.name}", good.read_bytes())
    assert 400 <= r.status_code < 500
    # a body whose sha256 is not the one in its name
    wrong = good.read_bytes()[:-1] + b"\x00"
    r = put(f"{seg_url}/{good.name}", wrong)
    assert r.status_code == 400 and r.json()["error"] == "hash_mismatch"
    # not Parquet
    junk = b"not parquet at all" * 10
    r = put(f"{seg_url}/w1-000003-{hashlib.sha256(junk).hexdigest()}.parquet", junk)
    assert r.status_code == 400 and r.json()["error"] == "not_parquet"
    # Parquet with the wrong schema
    other = _segment(tmp_path, [("x", 1.0)], seq=4, schema=pa.schema([("a", pa.float64())]))
    r = put(f"{seg_url}/{other.name}", other.read_bytes())
    assert r.status_code == 400 and r.json()["error"] == "wrong_schema"
    # oversized (the server was started with --max-upload-mb 1), declared and streamed
    big = os.urandom(2 * 1024 * 1024)
    r = put(f"{seg_url}/w1-000005-{hashlib.sha256(big).hexdigest()}.parquet", big)
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    def chunks():
        yield big

    r = httpx.put(
        f"{seg_url}/w1-000005-{hashlib.sha256(big).hexdigest()}.parquet",
        content=chunks(),
        headers=h,
    )
    assert r.status_code == 413
    # a different content under an existing segment's writer and number
    clash = _segment(tmp_path, [("loss", 9.0)], seq=1)
    r = put(f"{seg_url}/{clash.name}", clash.read_bytes())
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    # run.json that lies about its id; a body that is not JSON
    r = put(f"{api}/runs/alice/p/r2", json.dumps({"meta": {"id": "r1"}}).encode())
    assert r.status_code == 400
    r = put(f"{api}/runs/alice/p/r2", b"{nope")
    assert r.status_code == 400 and r.json()["error"] == "invalid"
    assert _tree(server.root) == before, "a refused request changed the store"
    assert not (tmp_path / "etc").exists()
    # and the stored run still reads back whole
    assert server_rows(server.root, "alice", "p", "r1")[0]["loss"] == 0.5


def test_upload_is_idempotent(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    with client(server, key) as c:
        _upload_run(c, "alice", "p", "r1", tmp_path)
        seg = next((server.root / "runs" / "@alice/p" / "r1" / "history").glob("*.parquet"))
        mtime = seg.stat().st_mtime_ns
        local = tmp_path / seg.name
        assert c.put_segment("alice", "p", "r1", "history", local) is False
        assert seg.stat().st_mtime_ns == mtime
        assert c.segments("alice", "p", "r1")["history"] == {seg.name}


def test_server_admin_commands(tmp_path: Path):
    root = str(tmp_path / "srv")
    assert cli("server", "user", "add", "alice", "--root", root).returncode == 0
    r = cli("server", "user", "add", "alice", "--root", root)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = cli("server", "user", "add", "../x", "--root", root)
    assert r.returncode == 1 and "invalid entity name" in r.stderr
    r = cli("server", "key", "create", "alice", "--root", root)
    key = r.stdout.strip()
    assert r.returncode == 0 and key.startswith("flk_") and "shown once" in r.stderr
    db = (tmp_path / "srv" / "accounts.sqlite").read_bytes()
    assert key.encode() not in db  # only the hash is stored
    assert stat.S_IMODE((tmp_path / "srv" / "accounts.sqlite").stat().st_mode) == 0o600
    r = cli("server", "team", "add", "vision", "--member", "alice", "--root", root)
    assert r.returncode == 0
    r = cli("server", "team", "add", "vision2", "--member", "nobody", "--root", root)
    assert r.returncode == 1 and "no user 'nobody'" in r.stderr
    r = cli("server", "project", "set", "vision/resnet", "--visibility", "open", "--root", root)
    assert r.returncode == 0
    r = cli("server", "project", "list", "--root", root)
    assert "team vision: resnet (open)" in r.stdout
