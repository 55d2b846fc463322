"""Pages through gunicorn against a bare Flask app and a bare route of the same app, and RSS.

gunicorn runs with the project's gunicorn.conf.py (same workers, preload) on 127.0.0.1 and a
free port, serving a private copy of the corpus and its index. A second gunicorn with the same
settings serves a bare Flask "hello" app (bench/bare_app.py, issue 17's floor). Each page's
requests/s is divided by the bare app's and the bare route's, measured in alternating rounds
(bare app, bare route, page) so drift hits all alike.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import PROJECT_ROOT, loadgen
from .bare_app import BARE_PATH
from .report import Row, ms

ROUNDS = 2


@dataclass
class Target:
    name: str
    paths: list[str]
    hx: bool = False
    server: Gunicorn | None = None  # another server than the one measured (the bare app)
    loads: list[loadgen.Load] = field(default_factory=list)
    first_view_ms: float | None = None

    @property
    def rps(self) -> float:
        return sum(x.requests for x in self.loads) / sum(x.seconds for x in self.loads)

    @property
    def p99_ms(self) -> float:
        return max(x.p99_ms for x in self.loads)

    @property
    def p50_ms(self) -> float:
        return sorted(x.p50_ms for x in self.loads)[len(self.loads) // 2]

    @property
    def failures(self) -> int:
        return sum(x.failures for x in self.loads)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn -c gunicorn.conf.py bench.wsgi_app:app on a free loopback port."""

    def __init__(
        self,
        db_path: Path | None,
        index_dir: Path | None,
        log_file: Path,
        app: str = "bench.wsgi_app:app",
        config: str = "gunicorn.conf.py",
        extra_env: dict | None = None,
    ) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "SECRET_KEY": "bench-secret",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_ACCESSLOG": "/dev/null",
            "GUNICORN_LOGLEVEL": "warning",
            "RATELIMIT_STORAGE_URI": "memory://",
            # Starts empty every run: first views are measured by prime(), the rounds after.
            "MICROSITE_PAGE_CACHE_DIR": str(log_file.parent / f"page-cache-{self.port}"),
        }
        if db_path is not None:
            env["DATABASE_URL"] = f"sqlite:///{db_path}"
        if index_dir is not None:
            env["MICROSITE_SEARCH_INDEX_DIR"] = str(index_dir)
        env.update(extra_env or {})
        self.env = env
        self.log = log_file.open("w")
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "-c", config, app],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited ({self.process.returncode}); see {self.log.name}"
                )
            try:
                with urllib.request.urlopen(self.url(BARE_PATH), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def bare_app(log_file: Path) -> Gunicorn:
    """The bare Flask app under the same gunicorn settings (bench/bare.conf.py)."""
    return Gunicorn(None, None, log_file, app="bench.bare_app:app", config="bench/bare.conf.py")


def check(server: Gunicorn, target: Target) -> None:
    """Every path answers 200 before it is loaded (a fast 404 would flatter the ratio)."""
    headers = {"HX-Request": "true"} if target.hx else {}
    for path in target.paths[:20]:
        request = urllib.request.Request(server.url(path), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        if status != 200:
            raise RuntimeError(f"{target.name}: {path} answered {status}")


def prime(server: Gunicorn, target: Target, threads: int = 4) -> float:
    """Request every path once (a reader's first view: nothing stored yet); mean ms per page.

    The rounds that follow measure the site as readers meet it after that: pages stored once
    per content change and shared by the workers (microsite.web.page_cache).
    """
    headers = {"HX-Request": "true"} if target.hx else {}

    def fetch(path: str) -> None:
        request = urllib.request.Request(server.url(path), headers=headers)
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fetch, target.paths))
    return (time.perf_counter() - started) * 1000 * threads / len(target.paths)


def memory(pid: int) -> dict[str, float]:
    """Resident and proportional set size of one process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"]}


def measure(
    server: Gunicorn,
    targets: list[Target],
    seconds: float,
    connections: int,
    log: Callable[[str], None] = print,
    bare_server: Gunicorn | None = None,
) -> tuple[Target, list[Target], list[dict[str, float]], Target | None]:
    """Prime and warm every target, then ROUNDS of (bare app, bare route, page).

    Returns the bare route, the pages, the memory of each worker and the bare app."""
    bare = Target("bare route", [BARE_PATH])
    floor = Target("bare flask app", [BARE_PATH], server=bare_server) if bare_server else None
    baselines = [t for t in (floor, bare) if t is not None]
    for target in [*baselines, *targets]:
        on = target.server or server
        check(on, target)
        if len(target.paths) > 1:
            target.first_view_ms = prime(on, target)
            log(f"  http first views: {target.name} {target.first_view_ms:.1f} ms per page")
        loadgen.run(on.port, target.paths, min(2.0, seconds), connections, target.hx)
    for round_no in range(ROUNDS):
        for target in targets:
            for t in (*baselines, target):
                on = t.server or server
                t.loads.append(loadgen.run(on.port, t.paths, seconds / ROUNDS, connections, t.hx))
            log(
                f"  http round {round_no + 1}: {target.name} {target.loads[-1].rps:,.0f} req/s"
                + "".join(f" vs {b.name} {b.loads[-1].rps:,.0f}" for b in baselines)
            )
    return bare, targets, [memory(pid) for pid in server.workers()], floor


# Issue 17's budgets against the bare Flask app (req/s ratios).
BUDGETS = {"article page": 0.5, "related fragment": 0.6}
# Issue 16's budget against the app's own bare route.
ROUTE_BUDGETS = {"search page": 0.3}
# A page rendered for every request may cost at most this many stored ones (issue 17).
UNCACHED_BUDGET = 5.0


def section(run, log: Callable[[str], None], articles: int) -> None:
    """`make bench`'s http rows: pages against the bare Flask app and the bare route, the
    article page with no page cache against the stored one, and RSS per worker."""
    from urllib.parse import quote

    run.ensure_index()
    args = run.args
    ids = [i for i, _, _ in run.texts]
    sample = ids[:: max(1, len(ids) // articles)][:articles]
    article_paths = [f"/articles/{i}" for i in sample]
    targets = [
        Target("article page", article_paths),
        Target("related fragment", [f"/articles/{i}/related?page=2" for i in sample], hx=True),
        Target("home /", ["/"]),
    ]
    search_paths = []
    if "search.search" in {r.endpoint for r in run.app.url_map.iter_rules()}:
        # Every bench query once to prime (the cold figure), then the same queries over again:
        # the rounds measure repeats only (readers' popular queries and typed prefixes).
        search_paths = [f"/search?q={quote(q.text)}" for q in run.queries]
        targets.append(Target("search page", search_paths))
        targets.append(Target("search fragment (htmx)", search_paths, hx=True))
    log(f"http: gunicorn, {args.connections} connections, {args.seconds:g} s per target")
    server = Gunicorn(run.db_path, run.index_dir, run.work / "gunicorn.log")
    floor = bare_app(run.work / "gunicorn-bare.log")
    uncached = Gunicorn(
        run.db_path,
        run.index_dir,
        run.work / "gunicorn-uncached.log",
        extra_env={"MICROSITE_PAGE_CACHE_DIR": ""},
    )
    targets.append(Target("article page, nothing stored", article_paths, server=uncached))
    if search_paths:
        targets.append(Target("search page, nothing stored", search_paths, server=uncached))
    try:
        for each in (server, floor, uncached):
            each.wait_ready()
        bare, pages, workers, flask_app = measure(
            server, targets, args.seconds, args.connections, log, bare_server=floor
        )
    finally:
        for each in (server, floor, uncached):
            each.stop()
    tool = bare.loads[0].tool
    run.rows += [
        Row("http", f"bare Flask app ({len(workers)} workers, {tool})",
            f"{flask_app.rps:,.0f} req/s", f"p99 {ms(flask_app.p99_ms)}"),
        Row("http", "bare route of our app", f"{bare.rps:,.0f} req/s",
            f"bare app {flask_app.rps:,.0f} req/s", bare.rps / flask_app.rps),
    ]  # fmt: skip
    by_name = {t.name: t for t in pages}
    for t in pages:
        if t.server is not None:
            continue
        ratio = t.rps / flask_app.rps
        budget = BUDGETS.get(t.name)
        run.rows.append(
            Row("http", f"{t.name} req/s", f"{t.rps:,.0f} req/s",
                f"bare app {flask_app.rps:,.0f} req/s", ratio,
                f"≥ {budget}x" if budget else "", ratio >= budget if budget else None)
        )  # fmt: skip
        route_budget = ROUTE_BUDGETS.get(t.name)
        run.rows.append(
            Row("http", f"{t.name} vs bare route" + ("" if route_budget else " (info)"),
                f"{t.rps:,.0f} req/s", f"bare route {bare.rps:,.0f} req/s", t.rps / bare.rps,
                f"≥ {route_budget}x" if route_budget else "",
                t.rps / bare.rps >= route_budget if route_budget else None)
        )  # fmt: skip
        run.rows.append(
            Row("http", f"{t.name} p99 @{args.connections}", ms(t.p99_ms),
                f"bare app p99 {ms(flask_app.p99_ms)}", t.p99_ms / flask_app.p99_ms,
                "< 50 ms" if budget else "", t.p99_ms < 50 if budget else None)
        )  # fmt: skip
        if t.first_view_ms is not None:
            run.rows.append(
                Row("http", f"{t.name} first view (info)", ms(t.first_view_ms),
                    "mean over every path, 4 at a time, nothing stored yet")
            )  # fmt: skip
    if "search page, nothing stored" in by_name:
        fresh = by_name["search page, nothing stored"]
        run.rows.append(
            Row("http", "search page, nothing stored (info)", f"{fresh.rps:,.0f} req/s",
                f"bare route {bare.rps:,.0f} req/s", fresh.rps / bare.rps)
        )  # fmt: skip
    stored, fresh = by_name["article page"], by_name["article page, nothing stored"]
    cost = stored.rps / fresh.rps
    run.rows.append(
        Row("http", "article page, nothing stored (cost per request)",
            f"{fresh.rps:,.0f} req/s", f"stored {stored.rps:,.0f} req/s", cost,
            f"≤ {UNCACHED_BUDGET:g}x", cost <= UNCACHED_BUDGET)
    )  # fmt: skip
    for t in [flask_app, bare, *pages]:
        if t.failures:
            run.notes.append(f"http: {t.name} had {t.failures} failed requests")
    rss = max(w["rss"] for w in workers)
    pss = sum(w["pss"] for w in workers) / len(workers)
    run.rows.append(
        Row("memory", f"RSS per worker after load (max, {args.search_n // 1000}k)", f"{rss:.0f} MB",
            f"PSS mean {pss:.0f} MB", None, "≤ 250 MB", rss <= 250)
    )  # fmt: skip
