"""What a replica's upload costs in its own process (sync/shared_store.py `place_segment`):
a real PostgreSQL catalog and a bucket on a local directory, so what is timed is the
replica's own work (its sha256 and content checks, the object written and read back, the
catalog's queries), not a network's.

    python tests/benchmarks/bench_place_shared.py [--segments 300] [--repeat 3]
                                                  [--baseline /tmp/old/.venv/bin/python]

Each upload of a new segment of a run now also asks the catalog for its writer's segments
sealed from a journal (`retire_recovered`: one indexed query, none found), and so does an
upload found already stored (a client's retry: clients ask what is stored first).
Measured in a fresh process per interpreter and repeat, alternating, each on a new database:
`--segments` segments of one run placed one after the other, then each sent again. Prints
the median and p99 latency of both, the ratios to the baseline, and the load average.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, shutil, sys, time
from pathlib import Path
sys.path.append(sys.argv[4])  # tests.servers; flightlog is the interpreter's
from flightlog.sync.accounts import Accounts
from flightlog.sync.db.catalog import Catalog
from flightlog.sync.limits import ServerLimits
from flightlog.sync.objstore import ObjectStore
from flightlog.sync.receive import check_segment_name
from flightlog.sync.shared_store import SharedStore
from tests.servers import segment_file, tidy_table

root, db, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
accounts = Accounts(db=db)
store = SharedStore(root / "replica", ServerLimits(), ObjectStore.from_uri(str(root / "bucket")),
                    Catalog(accounts.driver))
store.put_run("alice", "p", "r1", {"id": "r1"}, [])
paths = store.paths("alice", "p", "r1")
segs = [segment_file(root / "segs", tidy_table(200, start=i * 200), seq=i + 1) for i in range(n)]
out = {}
for what in ("new", "again"):
    times = []
    for seg in segs:
        tmp = store.uploads / "up.tmp"
        shutil.copy(seg, tmp)
        parsed = check_segment_name("history", seg.name)
        t = time.perf_counter()
        store.place_segment(paths, "history", parsed, tmp, parsed.sha256)
        times.append(time.perf_counter() - t)
        tmp.unlink(missing_ok=True)
    out[what] = times
accounts.driver.close()
print(json.dumps(out))
"""


def run(python: str, pg: object, segments: int, repo: Path) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="bench-place-shared-") as tmp:
        db = pg.new_database()  # type: ignore[attr-defined]
        r = subprocess.run(
            [python, "-c", CHILD, tmp, db, str(segments), str(repo)],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode:
            raise RuntimeError(r.stderr[-3000:])
        return json.loads(r.stdout.strip().splitlines()[-1])


def p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--segments", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="another interpreter, measured alternately")
    args = ap.parse_args()
    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    from tests.scale_services import Postgres

    pythons = {"now": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    got: dict[str, dict[str, list[float]]] = {k: {"new": [], "again": []} for k in pythons}
    pg = Postgres()
    try:
        for _ in range(args.repeat):
            for name, python in pythons.items():
                for what, times in run(python, pg, args.segments, repo).items():
                    got[name][what] += times
    finally:
        pg.stop()
    print(f"{args.segments} segments x {args.repeat}, load average {os.getloadavg()}")
    for what in ("new", "again"):
        line = f"{what:>6}:"
        for name in pythons:
            t = got[name][what]
            line += f"  {name} median {statistics.median(t) * 1e3:.2f} ms p99 {p99(t) * 1e3:.2f} ms"
        if "baseline" in got:
            ratio = statistics.median(got["now"][what]) / statistics.median(got["baseline"][what])
            line += f"  ratio {ratio:.2f}"
        print(line)


if __name__ == "__main__":
    main()
