"""A bare Flask "hello" app: the floor of issue 17's budgets.

    gunicorn -c gunicorn.conf.py bench.bare_app:app

Nothing of microsite is imported: no extensions, no hooks, no database. Served by gunicorn
with the project's gunicorn.conf.py (same workers, preload, keep-alive) beside the real app,
it is what a page's requests/s is divided by (bench/bare.conf.py reads gunicorn.conf.py and
drops only its post_fork and worker_exit hooks, which talk to the real app's extensions).
"""

from flask import Flask

BARE_PATH = "/_bench/hello"
app = Flask("bare")


@app.get("/")
@app.get(BARE_PATH)
def hello():
    """A short constant string."""
    return "hello"
