"""Load over HTTP: gunicorn with 2 workers, a real HTTP client, single screens, for a fixed time.

    python -m bench.http_load [--list builtin+ofac|synthetic|neardup] [--entries 200000] [--seconds 60]
                              [--clients 4] [--postgres]

builtin+ofac: the built-in list plus the 7.4k-entry OFAC export from ../shared. synthetic: the built-in list plus
N synthetic entries (bench/synthetic.py). neardup: the built-in list plus N near-duplicate entries from a small
vocabulary (bench/neardup.py), queried with single-edit variants of its names. Queries mix list names with a slip
in them and names that match nothing.
Prints requests/s, latency p50/p90/p99 and the error count. The client runs on the same 2 cores as the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import threading
import time
import urllib.parse
from pathlib import Path

from screening import create_app
from screening.auth import create_key
from screening.db import dispose, upgrade, write_sessions
from screening.importers import parse_import
from screening.listfile import ListDocument, Source, load_list_file
from screening.lists import import_document, write_transaction

from .neardup import KINDS, neardup_entries, single_edit
from .serving import database, gunicorn
from .synthetic import WESTERN_FAMILY, WESTERN_GIVEN, misspell, synthetic_entries

PEERS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "peers"


def prepare(url: str, kind: str, entries: int) -> tuple[str, list[str]]:
    """Load the list into a fresh database; return an API key and the names to build queries from."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url})
    with write_transaction(write_sessions(app)) as session:
        import_document(session, load_list_file(), mode="replace", actor="bench")
    if kind == "builtin+ofac":
        files = {k: (PEERS / f"watchman_test_testdata_{v}.csv").read_bytes()
                 for k, v in (("sdn", "sdn"), ("alt", "alt"), ("add", "add"), ("comments", "sdn_comments"))}
        document = parse_import("ofac-csv", files)
    else:
        raw = list(synthetic_entries(entries) if kind == "synthetic" else neardup_entries(entries))
        from screening.listfile import Entry

        document = ListDocument([Entry.model_validate(e) for e in raw],
                                [Source(id="synthetic", title="Synthetic list", publisher="bench", kind="import")], {})
    with write_transaction(write_sessions(app)) as session:
        import_document(session, document, mode="merge", actor="bench")
        key = create_key(session, role="screener", label="bench")
    names = [e.names[0].name for e in document.entries]
    dispose(app)
    return key, names


def queries(names: list[str], count: int, seed: int = 5, single_edits: bool = False) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        if rng.random() < 0.5:
            name = rng.choice(names)
            out.append(single_edit(name, rng.choice(KINDS), rng) if single_edits else misspell(name, rng))
        else:  # a customer who is on no list
            out.append(f"{rng.choice(WESTERN_GIVEN).title()} {rng.choice(WESTERN_FAMILY).title()}-{rng.randint(1, 999)}")
    return out


def run_load(port: int, key: str, names: list[str], seconds: float, clients: int,
             single_edits: bool = False) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()

    def client(seed: int) -> None:
        mine: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for name in queries(names, 100_000, seed, single_edits):
            if time.monotonic() > stop_at:
                break
            path = "/v1/screen?" + urllib.parse.urlencode({"name": name})
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200 and "matches" in json.loads(body)
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed, "errors": errors[0],
            "p50": statistics.median(ordered) * 1000, "p90": pct(0.90), "p99": pct(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--list", dest="kind", choices=["builtin+ofac", "synthetic", "neardup"],
                        default="builtin+ofac")
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with database(args.postgres) as url:
        key, names = prepare(url, args.kind, args.entries)
        with gunicorn(url) as (port, ready):
            print(f"list: {args.kind} ({len(names) + 9:,} entries) on {'PostgreSQL' if args.postgres else 'SQLite'}; "
                  f"server ready in {ready:.1f} s; {args.clients} client threads, {args.seconds:.0f} s")
            result = run_load(port, key, names, args.seconds, args.clients, args.kind == "neardup")
            print(f"{result['requests']:,} requests in {result['seconds']:.1f} s: {result['rps']:.0f} requests/s, "
                  f"p50 {result['p50']:.1f} ms, p90 {result['p90']:.1f} ms, p99 {result['p99']:.1f} ms, "
                  f"errors {result['errors']}")


if __name__ == "__main__":
    main()
