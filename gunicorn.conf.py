"""gunicorn settings; every value can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2, 4)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Load the app once in the master so workers share its memory and start fast.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Forms are small; refuse oversized request lines and headers early.
limit_request_line = 8190


def post_fork(server, worker):
    # Connections opened in the master during preload must not be shared with workers.
    from microsite import queue
    from microsite.extensions import db

    app = worker.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)
    queue.after_fork(app)


def worker_exit(server, worker):
    # Views buffered since the last write are recorded before the worker goes (the background
    # worker adds them to the counts).
    from microsite.web.counting import view_counter

    app = worker.app.wsgi()
    with app.app_context():
        view_counter().write_marks()
