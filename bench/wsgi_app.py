"""The real app plus a bare route: `gunicorn -c gunicorn.conf.py bench.wsgi_app:app`.

The bare route runs through the same app, hooks and workers as every page, so the ratio of a
page's requests/s to it is the page's own cost; configuration comes from the environment, as
in production (DATABASE_URL, MICROSITE_SEARCH_INDEX_DIR, SECRET_KEY, WEB_CONCURRENCY).
"""

from microsite import create_app

from .bare_app import BARE_PATH

app = create_app()


@app.get(BARE_PATH)
def hello():
    """A short constant string: the floor every page is compared with."""
    return "hello"
