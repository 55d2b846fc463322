"""The cost of one stored-page hit, in-process, against a bare Flask app (issue 17.1).

    python -m bench.hotpath                 µs per request: bare Flask, our /_bench/hello,
                                            stored article page, stored related fragment
    python -m bench.hotpath --profile article   pyinstrument over the stored article hits

Calls each WSGI app directly with a prepared environ (no socket, no test client), so what is
timed is the app's own work per request; rounds alternate between the targets so drift hits
all alike. Uses a private copy of the 10k corpus with the page cache on.
"""

from __future__ import annotations

import argparse
import io
import sys
import time

from . import corpus
from .bare_app import BARE_PATH
from .bare_app import app as bare

ROUNDS = 5


def environ(path: str, hx: bool = False) -> dict:
    path, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if hx:
        env["HTTP_HX_REQUEST"] = "true"
    return env


def call(app, env: dict) -> str:
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    body = app(dict(env), start_response)
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return status[0]


def per_request_us(app, envs: list[dict], n: int) -> float:
    began = time.perf_counter()
    for i in range(n):
        call(app, envs[i % len(envs)])
    return (time.perf_counter() - began) / n * 1e6


def _publish_elsewhere(app) -> None:
    from microsite.content.models import Article
    from microsite.extensions import db
    from microsite.text import local_now

    with app.app_context():
        db.session.add(Article(title="新文章", body="<p>正文</p>", status="published",
                               published_at=local_now()))  # fmt: skip
        db.session.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath")
    parser.add_argument("--profile", choices=["article", "related", "hello", "uncached", "kept"])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args(argv)
    work = corpus.run_directory("hotpath")
    db_path = corpus.working_copy(10_000, work)
    app = corpus.bench_app(db_path, work / "index", PAGE_CACHE_DIR=str(work / "pages"))
    app.add_url_rule(BARE_PATH, "bench_hello", lambda: "hello")
    fresh = corpus.bench_app(db_path, work / "index", PAGE_CACHE_DIR="")
    ids = range(1, 10_000, 50)
    targets = {
        "bare flask": (bare, [environ("/")]),
        "our hello": (app, [environ(BARE_PATH)]),
        "article": (app, [environ(f"/articles/{i}") for i in ids]),
        "related": (app, [environ(f"/articles/{i}/related?page=2", hx=True) for i in ids]),
        "uncached": (fresh, [environ(f"/articles/{i}") for i in ids]),
    }
    for name, (target, envs) in targets.items():  # store every page, check every answer
        envs[:] = [env for env in envs if call(target, env).startswith("200")]
        if not envs:
            raise RuntimeError(f"{name}: nothing answered 200")
    if args.profile:
        from pyinstrument import Profiler

        name = {"hello": "our hello", "kept": "article"}.get(args.profile, args.profile)
        target, envs = targets[name]
        if args.profile == "kept":  # a publish elsewhere: each page is found by content once
            args.n = len(envs)
            _publish_elsewhere(app)
        if name == "uncached":
            args.n = min(args.n, 200)
        profiler = Profiler(interval=0.0001)
        profiler.start()
        per_request_us(target, envs, args.n)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return 0
    times: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (target, envs) in targets.items():
            times[name].append(per_request_us(target, envs, args.n // ROUNDS))
    floor = min(times["bare flask"])
    for name, values in times.items():
        best = min(values)
        print(f"{name:12s} {best:8.1f} µs/request  {floor / best:5.2f}x bare flask req/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
