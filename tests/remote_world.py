"""A team server with runs in it, for the remote-reading tests: users alice and bob, team
vision (alice), alice's private project `secret` and vision's open project `shared`, all
made by a real training script in a local store and synced with `flightlog sync`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .servers import LiveServer

TRAIN = """
import flightlog
for entity, project, steps, lr in {plan!r}:
    run = flightlog.init(project=project, entity=entity, mode="offline", reinit="create_new",
                         config={{"lr": lr, "model": "cnn"}}, tags=["t"], group="g")
    for i in range(steps):
        run.log({{"loss": 1.0 / (i + 1), "acc": i / steps}})
    run.finish()
"""
PLAN = [
    ("alice", "secret", 300, 0.01),
    ("alice", "secret", 200, 0.1),
    ("vision", "shared", 150, 0.05),
]


@dataclass
class World:
    server: LiveServer
    store: Path  # the local store the runs were made in (and synced from)
    keys: dict[str, str]
    config: Path  # FLIGHTLOG_CONFIG_DIR of the test (no login stored)

    def env(self, user: str) -> dict[str, str]:
        """The environment of `user` reading the server."""
        return {
            "FLIGHTLOG_API_KEY": self.keys[user],
            "FLIGHTLOG_BASE_URL": self.server.url,
            "FLIGHTLOG_DIR": str(self.store),
        }


def child(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("FLIGHTLOG_", "WANDB_"))}
    full.update(env, FLIGHTLOG_SILENT="1")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_as(world: World, user: str, *args: str) -> subprocess.CompletedProcess:
    """`flightlog ARGS` as `user` would type it, in a real process."""
    code = f"import sys; from flightlog.cli import main; sys.exit(main({list(args)!r}))"
    return child(code, {**world.env(user), "FLIGHTLOG_CONFIG_DIR": str(world.config)})


def make_world(base: Path) -> World:
    server = LiveServer(base / "server").start()
    keys = {u: server.user(u) for u in ("alice", "bob")}
    server.accounts.add_team("vision", ["alice"])
    world = World(server, base / "store", keys, base / "config")
    made = child(TRAIN.format(plan=PLAN), {"FLIGHTLOG_DIR": str(world.store)})
    assert made.returncode == 0, made.stderr
    synced = cli_as(world, "alice", "sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    server.accounts.set_visibility("vision", "shared", "open")
    return world
