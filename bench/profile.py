"""Profiles of what the table measures, for explaining a missed budget (pyinstrument).

    python -m bench.profile article     60 article pages (cold related lists), in-process
    python -m bench.profile related     60 related fragments (page 2, htmx)
    python -m bench.profile home        30 fragments of / on the 100,000 corpus
    python -m bench.profile search      the 200 benchmark queries through microsite.search.find
    python -m bench.profile reindex     a full rebuild (--procs 1, so the profile sees the work)

Uses its own copy of the corpus under bench/.cache/profile (N=10,000 unless --n is given).
"""

from __future__ import annotations

import argparse
import sys

from pyinstrument import Profiler

from . import CACHE_DIR, corpus, queries, reindex

HX = {"HX-Request": "true"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("what", choices=["article", "related", "home", "search", "reindex"])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--all", action="store_true", help="show library frames too")
    args = parser.parse_args(argv)
    work = corpus.run_directory("profile")
    if args.what == "home":
        app = corpus.bench_app(corpus.ready_corpus(100_000), CACHE_DIR / "no-index")
    else:
        db_path = corpus.working_copy(args.n, work)
        app = corpus.bench_app(db_path, work / "index")
        if args.what != "reindex":
            reindex.rebuild_seconds(app, 2)
    client = app.test_client()
    profiler = Profiler(interval=0.0005)
    if args.what == "reindex":
        profiler.start()
        reindex.rebuild_seconds(app, 1)
    elif args.what == "search":
        from .search import whoosh_engine

        texts = corpus.plain_texts(db_path)
        vocab, seed = corpus._materials()[:2]
        found = queries.make_queries(vocab, [t for _, _, t in texts], seed.sentences)
        engine = whoosh_engine([app])
        engine(found[0])
        profiler.start()
        for query in found:
            engine(query)
    else:
        step = max(1, args.n // 60)
        urls = {
            "article": [(f"/articles/{i}", {}) for i in range(1, args.n, step)][:60],
            "related": [(f"/articles/{i}/related?page=2", HX) for i in range(1, args.n, step)][:60],
            "home": [("/", HX)] * 30,
        }[args.what]
        client.get("/_bench_warm_up")
        profiler.start()
        for url, headers in urls:
            client.get(url, headers=headers)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=args.all), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
