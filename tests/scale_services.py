"""A real PostgreSQL and a real S3-compatible server on 127.0.0.1 for the tests/test_scale_*
tests, each started once per test session (per xdist worker) and skipped, with the reason,
only where it cannot run here.

PostgreSQL: the Debian server binaries (/usr/lib/postgresql/*/bin), initdb into a temp dir,
trust authentication, a free port and its unix socket in the temp dir. It refuses to run as
root, so as root it runs as the `postgres` user (`runuser`). Each test gets a database of its
own (`CREATE DATABASE`), so tests never see each other's accounts.

S3: moto's server mode (`moto[server]`, from PyPI). MinIO's server is a Go binary that is on
neither PyPI nor Debian's archive here; moto is a well-kept S3 implementation (multipart
uploads, listing, HEAD) that pip installs. Each test gets a bucket of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class Postgres:
    """One PostgreSQL cluster in a temp dir."""

    def __init__(self) -> None:
        bindir = _pg_bin()
        if bindir is None:
            pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql")
        try:
            import psycopg  # noqa: F401
            import psycopg_pool  # noqa: F401
        except ImportError:
            pytest.skip("psycopg/psycopg_pool missing: pip install -e '.[server-scale]'")
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="flightlog-pg-"))
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("PostgreSQL refuses root and runuser is missing")
            shutil.chown(self.dir, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "flightlog", "-E", "UTF8")
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "120",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=300",
            "start",
        )
        self.data = data

    def _run(self, tool: str, *args: str) -> None:
        r = subprocess.run([*self._as, str(self.bin / tool), *args], capture_output=True)
        if r.returncode:
            raise RuntimeError(f"{tool} failed: {r.stderr.decode(errors='replace')[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://flightlog@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "t" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def connections(self, url: str) -> int:
        """Connections open to the database of `url` now (what the server holds)."""
        import psycopg

        db = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as c:
            row = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [db]
            ).fetchone()
        return int(row[0]) if row else 0

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class S3Server:
    """moto's S3 server on 127.0.0.1 with fixed test credentials."""

    def __init__(self) -> None:
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        if not Path(exe).exists():
            pytest.skip("moto_server missing: pip install 'moto[server]'")
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - the server's log, kept open
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=self.log
        )
        import httpx

        end = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.endpoint, timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The usual AWS variables, as a deployment sets them."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def new_bucket(self) -> str:
        """A fresh bucket; returns its s3:// URI with a prefix."""
        import boto3

        name = "b" + uuid.uuid4().hex[:12]
        boto3.client("s3", endpoint_url=self.endpoint, **_creds()).create_bucket(Bucket=name)
        return f"s3://{name}/flightlog"

    def objects(self, uri: str) -> dict[str, int]:
        """Every object under the URI's bucket: key -> size."""
        import boto3

        bucket = uri[5:].split("/", 1)[0]
        s3 = boto3.client("s3", endpoint_url=self.endpoint, **_creds())
        out: dict[str, int] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                out[o["Key"]] = o["Size"]
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _creds() -> dict[str, str]:
    return {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg = Postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def s3server() -> Iterator[S3Server]:
    s = S3Server()
    yield s
    s.stop()


@pytest.fixture
def pg_url(postgres: Postgres) -> str:
    return postgres.new_database()


@pytest.fixture
def s3_env(s3server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The AWS variables set in this process (and inherited by servers it starts)."""
    for k, v in s3server.env.items():
        monkeypatch.setenv(k, v)
    return s3server
