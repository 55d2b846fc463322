"""`python -m bench --only mixed`: readers across the long tail while an editor publishes.

Issue 17's realistic load, on the 100,000-article corpus (a private copy):
- gunicorn with the project's gunicorn.conf.py (4 workers) and the real background worker
  (`flask worker`) beside it, as `make run` starts them;
- an editor who signs in through the login form and publishes one article every PUBLISH_EVERY
  seconds through the real admin form (CSRF token, POST, redirect), into the corpus's own
  categories (so a publish changes the related lists of the articles of its category);
- readers: CONNECTIONS keep-alive connections for SECONDS (wrk, MIXED_LUA), each request a
  uniformly random article of the working set (80%), that article's related page 2 as htmx
  (10%) or `/` (10%);
- the bare Flask app (bench/bare_app.py, same gunicorn settings) measured with the same wrk
  script just before and just after the window; its mean is the baseline.

Warm-up, and why: readers draw from a working set of WORKING_SET articles chosen uniformly
from all live ones, each visited once (page and related page 2) before the window, 4 at a
time. That is what a long tail looks like to a page cache after crawlers and readers have been
through it once; the window then measures what publishing does to it (a publish changes the
stamp, so every stored page must be found again by what it shows, and the related lists of one
category in twelve change). The whole 100k could not be visited first in a bench run's time.
The hit rate is counted from the server's own answer: the X-Cache header
(microsite.web.page_cache: hit, kept or miss) of every reader page, tallied by the wrk script.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import PROJECT_ROOT, corpus, http, load, loadgen
from .bare_app import BARE_PATH
from .report import Row, ms

# BENCH_MIXED_SECONDS and BENCH_MIXED_SET shorten a trial run; the table's rows use these.
WORKING_SET = int(os.environ.get("BENCH_MIXED_SET", 4_000))
SECONDS = int(os.environ.get("BENCH_MIXED_SECONDS", 60))
CONNECTIONS = 16
PUBLISH_EVERY = 10.0
BARE_SECONDS = 10
PRIME_THREADS = 4

MIXED_LUA = """
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local bare = os.getenv("BENCH_BARE") == "1"
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() * 100 + tid)
  hit, kept, miss, other, bad = 0, 0, 0, 0, 0
end
local hx = {["HX-Request"] = "true"}
function request()
  if bare then return wrk.format("GET", os.getenv("BENCH_BARE_PATH")) end
  local r = math.random()
  local id = ids[math.random(#ids)]
  if r < 0.8 then return wrk.format("GET", "/articles/" .. id) end
  if r < 0.9 then return wrk.format("GET", "/articles/" .. id .. "/related?page=2", hx) end
  return wrk.format("GET", "/")
end
function response(status, headers, body)
  local x = headers["X-Cache"]
  if x == "hit" then hit = hit + 1
  elseif x == "kept" then kept = kept + 1
  elseif x == "miss" then miss = miss + 1
  else other = other + 1 end
  if status >= 400 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local t = {hit = 0, kept = 0, miss = 0, other = 0, bad = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format("XCACHE hit=%d kept=%d miss=%d other=%d bad=%d\\n",
    t.hit, t.kept, t.miss, t.other, t.bad))
end
"""


@dataclass
class Window:
    load: loadgen.Load
    cache: Counter = field(default_factory=Counter)

    @property
    def hit_rate(self) -> float:
        pages = self.cache["hit"] + self.cache["kept"] + self.cache["miss"]
        return (self.cache["hit"] + self.cache["kept"]) / pages if pages else 0.0


def drive(port: int, ids: list[int], seconds: int, bare: bool = False) -> Window:
    """wrk with MIXED_LUA for `seconds` at CONNECTIONS connections; loopback only."""
    with tempfile.TemporaryDirectory() as tmp:
        script, id_file = Path(tmp) / "mixed.lua", Path(tmp) / "ids.txt"
        script.write_text(MIXED_LUA)
        id_file.write_text("\n".join(map(str, ids)) + "\n")
        env = {
            **os.environ,
            "BENCH_IDS": str(id_file),
            "BENCH_BARE": "1" if bare else "0",
            "BENCH_BARE_PATH": BARE_PATH,
        }
        command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
        command += ["--timeout", "10s", "-s", str(script), f"http://{loadgen.HOST}:{port}/"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    window = Window(loadgen.parse_wrk(done.stdout))
    counts = re.search(r"XCACHE (.*)", done.stdout)
    for pair in counts.group(1).split() if counts else []:
        name, value = pair.split("=")
        window.cache[name] = int(value)
    return window


@dataclass
class Editor:
    """Publishes through the real admin forms every PUBLISH_EVERY seconds until stopped."""

    port: int
    categories: list[str]
    published: list[float] = field(default_factory=list)  # seconds per publish
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        admin = load.Admin(self.port)
        try:
            admin.sign_in()
        except (OSError, RuntimeError) as exc:
            self.failures.append(f"sign-in: {exc}")
            return
        r = random.Random(17)
        n = 0
        while not self.stop.is_set():
            began = time.perf_counter()
            n += 1
            try:
                token, _ = admin._token("/admin/articles/new")
                fields = load.Admin._fields(
                    token,
                    f"压测发布第{n}篇：人力资源市场动态",
                    f"<p>第{n}篇，负载测试发布的正文。</p>",
                )
                fields["category"] = r.choice(self.categories)
                status, _, _ = admin.client.post("/admin/articles/new", fields)
                if status != 302:
                    self.failures.append(f"publish answered {status}")
                else:
                    self.published.append(time.perf_counter() - began)
            except (OSError, RuntimeError) as exc:
                self.failures.append(f"publish: {exc}")
            self.stop.wait(max(0.0, PUBLISH_EVERY - (time.perf_counter() - began)))


def _env(work: Path, db_path: Path) -> dict:
    return {
        "DATABASE_URL": f"sqlite:///{db_path}",
        "MICROSITE_SEARCH_INDEX_DIR": str(work / "index"),
        "MICROSITE_JOBS_URL": f"sqlite:///{work / 'jobs.sqlite3'}",
        "INSTANCE_PATH": str(work / "instance"),
        "WEB_CONCURRENCY": "4",
        "FLASK_APP": "bench.wsgi_app",
    }


def _live_ids_and_categories(db_path: Path) -> tuple[list[int], list[str]]:
    with sqlite3.connect(db_path) as connection:
        ids = [i for (i,) in connection.execute("SELECT id FROM articles WHERE status='published'")]
        names = [n for (n,) in connection.execute("SELECT name FROM categories ORDER BY id")]
    return ids, names


def prime(port: int, ids: list[int]) -> float:
    """Every working-set article's page and related page 2, once; seconds taken."""
    paths = [(f"/articles/{i}", {}) for i in ids]
    paths += [(f"/articles/{i}/related?page=2", {"HX-Request": "true"}) for i in ids]
    paths.append(("/", {}))

    def fetch(item) -> None:
        client = load.Client(port, timeout=60)
        client.get(item[0], **item[1])
        client.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(PRIME_THREADS) as pool:
        list(pool.map(fetch, paths))
    return time.perf_counter() - began


def section(run, log) -> None:
    """The mixed rows of `make bench` (see the module docstring)."""
    work = run.work / "mixed"
    work.mkdir(parents=True, exist_ok=True)
    n = run.args.list_n
    log(f"mixed: {n:,} articles, {CONNECTIONS} connections, {SECONDS} s, publish every "
        f"{PUBLISH_EVERY:g} s")  # fmt: skip
    db_path = corpus.working_copy(n, work, log)
    env = _env(work, db_path)
    load._create_admin({**os.environ, **env, "SECRET_KEY": "bench-secret"})
    all_ids, categories = _live_ids_and_categories(db_path)
    ids = random.Random(17).sample(all_ids, min(WORKING_SET, len(all_ids)))
    server = http.Gunicorn(db_path, work / "index", work / "gunicorn.log", extra_env=env)
    floor = http.bare_app(work / "gunicorn-bare.log")
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("flask")), "worker"],
        cwd=PROJECT_ROOT,
        env=server.env,
        stdout=(work / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    editor = Editor(server.port, categories)
    try:
        server.wait_ready()
        floor.wait_ready()
        primed_s = prime(server.port, ids)
        log(f"  mixed: working set of {len(ids):,} articles visited once in {primed_s:.0f} s")
        before = drive(floor.port, ids, BARE_SECONDS, bare=True)
        log(f"  mixed: bare app {before.load.rps:,.0f} req/s")
        thread = threading.Thread(target=editor.run, daemon=True)
        thread.start()
        window = drive(server.port, ids, SECONDS)
        editor.stop.set()
        thread.join(timeout=30)
        log(f"  mixed: {window.load.rps:,.0f} req/s, cache {dict(window.cache)}")
        after = drive(floor.port, ids, BARE_SECONDS, bare=True)
        log(f"  mixed: bare app {after.load.rps:,.0f} req/s")
        workers = [http.memory(pid) for pid in server.workers()]
    finally:
        editor.stop.set()
        for each in (server, floor):
            each.stop()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    _rows(run, window, before, after, editor, workers, len(ids))


def _rows(run, window: Window, before: Window, after: Window, editor: Editor, workers, size):
    bare_rps = (before.load.rps + after.load.rps) / 2
    load_ = window.load
    errors = load_.failures + window.cache["bad"] + len(editor.failures)
    ratio = load_.rps / bare_rps
    n = f"{run.args.list_n // 1000}k"
    run.rows += [
        Row("mixed", f"readers + editor req/s ({n}, 4 workers)", f"{load_.rps:,.0f} req/s",
            f"bare app {bare_rps:,.0f} req/s", ratio, "≥ 0.3x", ratio >= 0.3),
        Row("mixed", "p50 / p99", f"{ms(load_.p50_ms)} / {ms(load_.p99_ms)}",
            f"bare app p99 {ms(max(before.load.p99_ms, after.load.p99_ms))}", None,
            "p99 ≤ 100 ms", load_.p99_ms <= 100),
        Row("mixed", "errors (non-2xx/3xx, socket, publish)", f"{errors}",
            f"{load_.requests:,} requests, {len(editor.published)} publishes", None, "0",
            errors == 0),
        Row("mixed", "stored-page hit rate (X-Cache)", f"{window.hit_rate:.1%}",
            f"hit {window.cache['hit']:,}, kept {window.cache['kept']:,}, "
            f"miss {window.cache['miss']:,}", None, "≥ 80%", window.hit_rate >= 0.8),
    ]  # fmt: skip
    if workers:
        rss = max(w["rss"] for w in workers)
        pss = sum(w["pss"] for w in workers) / len(workers)
        run.rows.append(
            Row("memory", f"RSS per worker after mixed load (max, {n})", f"{rss:.0f} MB",
                f"PSS mean {pss:.0f} MB", None, "≤ 250 MB", rss <= 250)
        )  # fmt: skip
    published = editor.published
    run.notes.append(
        f"mixed: working set {size:,} articles (visited once before the window); "
        f"{len(published)} publishes, mean {ms(1000 * sum(published) / max(1, len(published)))} "
        f"each (form GET + POST); editor failures: {editor.failures or 'none'}"
    )
