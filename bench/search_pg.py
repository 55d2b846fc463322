"""PostgreSQL search at 10k and 100k: the several-host engine, measured like the Whoosh side.

    python -m bench --only search-scale      this and the Whoosh side, in one table
    python -m bench.search_pg [--sizes 10000,100000] [--no-rebuild]   this alone

A throwaway PostgreSQL cluster is started the way scripts/with-postgres does it (initdb in a
directory of its own, a loopback port, `runuser -u postgres` when root, stopped afterwards).
Each cached SQLite corpus is loaded into it once: the schema by the app's own migrations, the
rows by COPY, then `microsite.search.rebuild()` writes every vector. Two databases hold the
same rows: `bench_rum` with the migration's RUM index and `bench_gin`, a copy whose index is
GIN (what a server without postgresql-15-rum gets). The cluster's data directory is kept in
bench/.cache under a key of the corpus, the migration head and the analyzer's sources, so
later runs start it in a second; loading costs minutes (printed when it happens).

Measured in each run, against baselines of the same run:
- rebuild: the backend's real `rebuild()` on bench_rum against rjieba alone (search mode, one
  process) on the same titles and plain bodies (budget ≤ 2×);
- search: the bench's 200 queries (bench/queries.py) through `microsite.search.find` with
  snippets, as /search runs them, on RUM and on GIN, with FTS5 over segmented text as the
  floor; p50/p95 per kind (budget at 100k: p95 ≤ 20 ms, phrases included).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import CACHE_DIR, PROJECT_ROOT, corpus, queries, reindex, search
from .report import Row, ms, seconds

SIZES = (10_000, 100_000)
RUM, GIN = "bench_rum", "bench_gin"
INDEX = "ix_articles_search_vector"
# Server settings: durability off (a throwaway cluster), memory as a small production server.
SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c shared_buffers=256MB -c maintenance_work_mem=256MB -c max_wal_size=4GB"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL server on `home`/data, started on a spare loopback port."""

    def __init__(self, home: Path) -> None:
        self.home, self.data = home, home / "data"
        self.bin = _bindir()
        self.port = 0

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def _own(self) -> None:
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "postgres", str(self.home)], check=True)

    def init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        self._own()
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._own()
        self.port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.home} {SETTINGS}"
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.home / "server.log"),
                    "-w",
                    "-o",
                    options,
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )

    def sql(self, database: str, *statements: str) -> list:
        import psycopg

        out = []
        with psycopg.connect(self.dsn(database), autocommit=True) as connection:
            for statement in statements:
                cursor = connection.execute(statement)
                out.append(cursor.fetchall() if cursor.description else None)
        return out


def _migration_head() -> str:
    heads = []
    for path in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("revision = "):
                heads.append(line.split("=", 1)[1].strip().strip("\"'"))
    return max(heads)


def cache_key(n: int) -> str:
    """Corpus, migration head and what decides a vector's content (the analyzer's source and
    the backend's VECTOR_VERSION)."""
    from microsite.search.backends.postgres import VECTOR_VERSION

    digest = hashlib.sha256((PROJECT_ROOT / "microsite/search/analyzer.py").read_bytes())
    stem = corpus.corpus_path(n).stem
    return f"pg-{stem}-m{_migration_head()}-v{VECTOR_VERSION}-a{digest.hexdigest()[:10]}"


def _app(url: str, **overrides):
    return corpus.bench_app(
        CACHE_DIR / "no-index.sqlite3",
        CACHE_DIR / "no-index",
        SQLALCHEMY_DATABASE_URI=url,
        **overrides,
    )


def _copy_rows(source: Path, dsn: str) -> int:
    """Every table of the SQLite corpus into the migrated PostgreSQL schema, by COPY."""
    import psycopg

    lite = sqlite3.connect(source)
    tables = [
        name
        for (name,) in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name not in {"alembic_version", "sqlite_sequence"}
    ]
    # Parents first: the order of the migrations' foreign keys.
    first = ["users", "categories", "tags", "articles"]
    tables.sort(key=lambda t: (first.index(t) if t in first else len(first), t))
    copied = 0
    with psycopg.connect(dsn) as pg:
        for table in tables:
            if not lite.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
                continue
            pg_columns = {
                name: kind
                for name, kind in pg.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = %s",
                    (table,),
                )
            }
            lite_columns = [r[1] for r in lite.execute(f'PRAGMA table_info("{table}")')]
            columns = [c for c in lite_columns if c in pg_columns]
            booleans = {i for i, c in enumerate(columns) if pg_columns[c] == "boolean"}
            names = ", ".join(f'"{c}"' for c in columns)
            with pg.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in lite.execute(f'SELECT {names} FROM "{table}"'):
                    if booleans:
                        row = [
                            bool(v) if i in booleans and v is not None else v
                            for i, v in enumerate(row)
                        ]
                    copy.write_row(row)
                    copied += 1
            if "id" in columns:
                pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT max(id) FROM "{table}"))'
                )
        pg.commit()
    return copied


def _rebuild(url: str) -> tuple[int, float]:
    """The backend's own full rebuild, as `flask reindex` runs it."""
    from microsite.extensions import db

    app = _app(url)
    try:
        return reindex.rebuild_seconds(app, None)
    finally:
        with app.app_context():
            db.engine.dispose()  # no idle connection left: CREATE DATABASE ... TEMPLATE needs none


@dataclass
class Loaded:
    cluster: Cluster
    n: int
    load_s: float | None  # None: the cached cluster was used
    first_rebuild_s: float | None


def prepare(n: int) -> Loaded:
    """The cluster for corpus n, started: from the cache, or loaded now (and cached)."""
    home = CACHE_DIR / cache_key(n)
    cluster = Cluster(home)
    if (home / "ready").exists():
        cluster.start()
        return Loaded(cluster, n, None, None)
    for old in CACHE_DIR.glob(f"pg-{corpus.corpus_path(n).stem}-*"):
        shutil.rmtree(old, ignore_errors=True)  # an older schema or analyzer
    source, _ = corpus.ensure_corpus(n, log)
    began = time.perf_counter()
    log(f"  postgres {n:,}: loading the corpus into a new cluster (cached afterwards)")
    cluster.init()
    cluster.start()
    try:
        cluster.sql("postgres", f"CREATE DATABASE {RUM}")
        app = _app(cluster.url(RUM))
        with app.app_context():
            corpus.quiet_upgrade()
            from microsite.extensions import db

            db.engine.dispose()
        kind = _index_kind(cluster, RUM)
        if kind != "rum":
            raise RuntimeError(
                f"the migration made a {kind} index: is postgresql-15-rum installed?"
            )
        rows = _copy_rows(source, cluster.dsn(RUM))
        copied_s = time.perf_counter() - began
        log(f"  postgres {n:,}: {rows:,} rows copied in {copied_s:.0f} s; first rebuild")
        _, first_rebuild = _rebuild(cluster.url(RUM))
        cluster.sql(RUM, "VACUUM ANALYZE")
        log(f"  postgres {n:,}: rebuilt in {first_rebuild:.0f} s; GIN copy")
        cluster.sql("postgres", f"CREATE DATABASE {GIN} TEMPLATE {RUM}")
        cluster.sql(
            GIN,
            f"DROP INDEX {INDEX}",
            f"CREATE INDEX {INDEX} ON articles USING gin (search_vector)",
            "VACUUM ANALYZE",
        )
    except BaseException:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
        raise
    (home / "ready").write_text(f"{time.strftime('%Y-%m-%d %H:%M')}\n", encoding="utf-8")
    load_s = time.perf_counter() - began
    log(f"  postgres {n:,}: ready in {load_s:.0f} s")
    return Loaded(cluster, n, load_s, first_rebuild)


def _index_kind(cluster: Cluster, database: str) -> str:
    (rows,) = cluster.sql(
        database,
        "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
        f"WHERE c.relname = '{INDEX}'",
    )
    return rows[0][0] if rows else "none"


@dataclass
class Measured:
    rows: list[Row]
    notes: list[str]


def _rebuild_rows(loaded: Loaded, texts, rebuild: bool, label: str) -> tuple[list[Row], list[str]]:
    segmenter_s = reindex.segmenter_seconds(texts)
    notes = []
    if loaded.first_rebuild_s is not None:
        rebuild_s = loaded.first_rebuild_s  # the load's rebuild: every vector was empty
        notes.append("rebuild into empty vectors, right after the load")
    elif rebuild:
        _, rebuild_s = _rebuild(loaded.cluster.url(RUM))
        loaded.cluster.sql(RUM, "VACUUM ANALYZE")  # untimed: what autovacuum does later
    else:
        return [], [f"rebuild not timed (--no-rebuild); segmenter alone {seconds(segmenter_s)}"]
    ratio = rebuild_s / segmenter_s
    row = Row(
        "search-scale",
        f"postgres rebuild ({label}, RUM)",
        seconds(rebuild_s),
        f"segmenter alone {seconds(segmenter_s)}",
        ratio,
        "≤ 2x",
        ratio <= 2,
    )
    return [row], notes


def _engines(loaded: Loaded, texts) -> dict:
    key = corpus.corpus_path(loaded.n).stem
    floor = search.SegmentedPeer(CACHE_DIR / f"{key}.fts5-segmented.sqlite3")
    floor.build(texts)
    engines = {}
    for database, name in ((RUM, "pg-rum"), (GIN, "pg-gin")):
        apps = [_app(loaded.cluster.url(database)) for _ in range(search.REPEATS)]
        engines[name] = search.whoosh_engine(apps)
    engines["pg-rum-sql"] = _backend_only(_app(loaded.cluster.url(RUM)))
    engines[floor.name] = floor.search
    return engines


def _backend_only(app):
    """The backend's statements alone (ids and count, no articles, no snippets): how much
    of a search is PostgreSQL's, and how much the page around it."""
    from microsite.extensions import db
    from microsite.search import backends
    from microsite.search.query import parse

    def run(query) -> search.Answer:
        with app.app_context():
            ids, total = backends.current().search(parse(query.text), 10, False)
            db.session.remove()
        return search.Answer(total, ids, [])

    return run


def measure(n: int, rebuild: bool = True) -> Measured:
    """Rebuild and search figures for corpus n, each with its baseline from this run."""
    label = f"{n // 1000}k"
    loaded = prepare(n)
    rows: list[Row] = []
    notes: list[str] = []
    try:
        if loaded.load_s is not None:
            notes.append(
                f"postgres {label}: loaded (COPY, migrations, rebuild, GIN copy) in "
                f"{loaded.load_s:.0f} s, cached for later runs"
            )
        texts = corpus.plain_texts(corpus.corpus_path(n))
        built, said = _rebuild_rows(loaded, texts, rebuild, label)
        rows += built
        notes += [f"postgres {label}: {s}" for s in said]
        vocab, seed = corpus._materials()[:2]
        bodies = [t for _, _, t in texts]
        asked = queries.make_queries(vocab, bodies, seed.sentences)
        warm = queries.make_queries(vocab, bodies, seed.sentences, seed=99)[::10]
        log(f"  postgres {label}: {len(asked)} queries on RUM, GIN and fts5-segmented")
        rum, gin, sql, floor = search.measure(_engines(loaded, texts), asked, warm, log)
        rows += _search_rows(asked, label, rum, gin, floor, n)
        rows.append(
            Row("search-scale", f"postgres RUM statements alone p50 / p95 ({label}, info)",
                f"{ms(sql.p50)} / {ms(sql.p95)}", f"find() p50 / p95 {ms(rum.p50)} / {ms(rum.p95)}",
                sql.p95 / rum.p95)
        )  # fmt: skip
        same = sum(1 for a, b in zip(rum.totals, gin.totals, strict=True) if a == b)
        floor_same = sum(1 for a, b in zip(rum.totals, floor.totals, strict=True) if a == b)
        notes.append(
            f"postgres {label}: counts RUM = GIN for {same}/{len(asked)} queries, "
            f"= fts5-segmented for {floor_same}/{len(asked)}"
        )
    finally:
        loaded.cluster.stop()
    return Measured(rows, notes)


def _search_rows(asked, label: str, rum, gin, floor, n: int) -> list[Row]:
    rows = []
    budget = n >= 100_000
    for engine in (rum, gin):
        name = engine.name.replace("pg-", "").upper()
        p95 = engine.p95
        rows.append(
            Row(
                "search-scale",
                f"postgres {name} p95 all ({label})",
                ms(p95),
                f"fts5-seg p95 {ms(floor.p95)}",
                p95 / floor.p95,
                "≤ 20 ms" if budget else "",
                p95 <= 20 if budget else None,
            )
        )
        ours = search.split_by_kind(asked, engine)
        base = search.split_by_kind(asked, floor)
        for kind, part in ours.items():
            rows.append(
                Row(
                    "search-scale",
                    f"postgres {name} {kind} p50 / p95 ({label})",
                    f"{ms(part.p50)} / {ms(part.p95)}",
                    f"fts5-seg {ms(base[kind].p50)} / {ms(base[kind].p95)}",
                    part.p95 / base[kind].p95,
                    "≤ 20 ms" if budget else "",
                    part.p95 <= 20 if budget else None,
                )
            )
    return rows


def section(sizes=SIZES, rebuild: bool = True) -> Measured:
    """Every size, for the search-scale section of `python -m bench`."""
    out = Measured([], [])
    for n in sizes:
        log(f"search-scale: PostgreSQL, {n:,} articles")
        part = measure(n, rebuild)
        out.rows += part.rows
        out.notes += part.notes
    return out


def main(argv: list[str] | None = None) -> int:
    from . import report

    parser = argparse.ArgumentParser(prog="python -m bench.search_pg")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--no-rebuild", action="store_true", help="do not time a rebuild")
    parser.add_argument("--load-only", action="store_true", help="load and cache the clusters")
    args = parser.parse_args(argv)
    if args.load_only:
        for n in (int(s) for s in args.sizes.split(",")):
            loaded = prepare(n)
            loaded.cluster.stop()
            print(f"{n}: load {loaded.load_s} s, first rebuild {loaded.first_rebuild_s} s")
        return 0
    began = time.perf_counter()
    result = section([int(s) for s in args.sizes.split(",")], not args.no_rebuild)
    print(
        f"`python -m bench.search_pg {' '.join(argv or sys.argv[1:])}` — "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"{(time.perf_counter() - began) / 60:.1f} min\n"
    )
    print(report.table(result.rows))
    print()
    print("\n".join(f"- {n}" for n in result.notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
