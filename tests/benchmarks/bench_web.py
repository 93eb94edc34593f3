"""The browser view's costs, on loopback: what the page weighs, what a request pays for the
access-log line and for cookie authentication, and how long the runs table and a run's
charts take to appear in headless Chromium.

    python tests/benchmarks/bench_web.py [--runs 20] [--steps 5000] [--seconds 5]

Prints, in one run: the page's bytes (HTML, scripts, CSS); requests per second of the runs
listing with 8 concurrent clients - key header vs session cookie, access log on vs off (the
baseline); and, when chromium and chromedriver are installed, the time from opening the page
to the drawn runs table and to a run's drawn charts. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from tests.servers import LiveServer  # noqa: E402

CLIENTS = 8
os.environ.setdefault("FLIGHTLOG_SILENT", "1")  # the runs it makes say nothing


def make_runs(store: Path, runs: int, steps: int) -> None:
    import flightlog

    for i in range(runs):
        run = flightlog.init(
            project="bench",
            entity="alice",
            dir=store,
            mode="offline",
            config={"lr": 10 ** -(i % 5), "seed": i},
            settings={"stats_interval": 0, "console": "off"},
        )
        for step in range(steps):
            run.log({"loss": 1 / (1 + step), "acc": step / steps, "lr": 0.1})
        run.finish()


def upload(store: Path, server: LiveServer, key: str) -> None:
    from flightlog.store.layout import iter_run_dirs
    from flightlog.sync.client import ServerClient
    from flightlog.sync.credentials import Credentials
    from flightlog.sync.uploader import load_local, sync_run

    with ServerClient(Credentials(server.url, key, "file"), retries=0) as c:
        for paths in iter_run_dirs(store):
            sync_run(c, load_local(paths), "alice")


def rps(url: str, seconds: float, **auth: dict[str, str]) -> tuple[float, int]:
    import httpx

    count, errors = [0], [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=60, **auth) as c:  # type: ignore[arg-type]
            while time.monotonic() < end:
                ok = c.get(url, params={"limit": 50, "sort": "-summary.acc"}).status_code == 200
                with lock:
                    count[0] += ok
                    errors[0] += not ok

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.monotonic() - start), errors[0]


def browser_times(server: LiveServer, key: str, run_id: str) -> tuple[float, float] | None:
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        driver.get(server.url + "/")
        while not driver.find_elements(By.ID, "key"):
            time.sleep(0.01)
        driver.find_element(By.ID, "key").send_keys(key)
        driver.find_element(By.ID, "login-button").click()
        while not driver.find_elements(By.CSS_SELECTOR, "ul.projects a"):
            time.sleep(0.01)

        def timed(fragment: str, css: str) -> float:
            t0 = time.perf_counter()
            driver.get(f"{server.url}/{fragment}")
            while not driver.find_elements(By.CSS_SELECTOR, css):
                time.sleep(0.005)
            return time.perf_counter() - t0

        table = timed("#/p/alice/bench", "#runs td.name")
        charts = timed(f"#/r/alice/bench/{run_id}", "#charts svg.plot[data-points]")
        return table, charts
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    import httpx

    from flightlog.sync.web_routes import STATIC, _asset

    weight = sum(len(_asset(n)[0]) for n in ("index.html", *STATIC))
    print(f"page weight: {weight / 1024:.1f} KiB ({len(STATIC) + 1} files, no third-party code)")
    tmp = Path(tempfile.mkdtemp(prefix="bench_web_"))
    try:
        make_runs(tmp / "store", args.runs, args.steps)
        for flags, label in (((), "access log on"), (("--no-access-log",), "access log off")):
            server = LiveServer(tmp / "server", flags=flags).start()
            try:
                key = server.user("alice")
                upload(tmp / "store", server, key)
                url = f"{server.url}/api/v1/runs/alice/bench"
                session = httpx.post(
                    f"{server.url}/api/v1/session", json={"key": key}, timeout=60
                ).cookies["flightlog_session"]
                rps(url, 1.0, headers={"Authorization": f"Bearer {key}"})  # warm up
                for how, auth in (
                    ("key header", {"headers": {"Authorization": f"Bearer {key}"}}),
                    ("session cookie", {"cookies": {"flightlog_session": session}}),
                ):
                    r, errors = rps(url, args.seconds, **auth)
                    print(
                        f"runs listing, {CLIENTS} clients, {label:<15} {how:<15}"
                        f"{r:7.1f} req/s  errors {errors}"
                    )
                if not flags:
                    from flightlog.store.layout import iter_run_dirs

                    run_id = next(iter(iter_run_dirs(tmp / "store"))).dir.name
                    times = browser_times(server, key, run_id)
                    if times is None:
                        print("browser timings: chromium/chromedriver not installed")
                    else:
                        print(
                            f"browser: runs table drawn in {times[0] * 1000:.0f} ms, a run's "
                            f"charts ({args.steps} steps) in {times[1] * 1000:.0f} ms"
                        )
            finally:
                server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
