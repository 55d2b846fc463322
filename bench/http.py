"""Pages through gunicorn against a bare route of the same app, and RSS per worker.

gunicorn runs with the project's gunicorn.conf.py (same workers, preload) on 127.0.0.1 and a
free port, serving a private copy of the corpus and its index. Each page's requests/s is
divided by the bare route's, measured in alternating rounds so drift hits both alike.
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
from .wsgi_app import BARE_PATH

ROUNDS = 2


@dataclass
class Target:
    name: str
    paths: list[str]
    hx: bool = False
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

    def __init__(self, db_path: Path, index_dir: Path, log_file: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "MICROSITE_SEARCH_INDEX_DIR": str(index_dir),
            "SECRET_KEY": "bench-secret",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_ACCESSLOG": "/dev/null",
            "GUNICORN_LOGLEVEL": "warning",
            "RATELIMIT_STORAGE_URI": "memory://",
            # Starts empty every run: first views are measured by prime(), the rounds after.
            "MICROSITE_PAGE_CACHE_DIR": str(log_file.parent / f"page-cache-{self.port}"),
        }
        self.log = log_file.open("w")
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "bench.wsgi_app:app"],
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
) -> tuple[Target, list[Target], list[dict[str, float]]]:
    """Prime and warm every target, then ROUNDS of (bare, page) pairs.

    Returns the bare route, the pages and the memory of each worker."""
    bare = Target("bare route", [BARE_PATH])
    for target in [bare, *targets]:
        check(server, target)
        if len(target.paths) > 1:
            target.first_view_ms = prime(server, target)
            log(f"  http first views: {target.name} {target.first_view_ms:.1f} ms per page")
        loadgen.run(server.port, target.paths, min(2.0, seconds), connections, target.hx)
    for round_no in range(ROUNDS):
        for target in targets:
            for t in (bare, target):
                t.loads.append(
                    loadgen.run(server.port, t.paths, seconds / ROUNDS, connections, t.hx)
                )
            log(
                f"  http round {round_no + 1}: {target.name} {target.loads[-1].rps:,.0f} req/s"
                f" vs bare {bare.loads[-1].rps:,.0f}"
            )
    return bare, targets, [memory(pid) for pid in server.workers()]
