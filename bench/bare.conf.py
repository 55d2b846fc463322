"""gunicorn settings for the bare Flask app: the project's gunicorn.conf.py, unchanged, minus
the two hooks that reach into microsite's extensions (the bare app has none)."""

from pathlib import Path

exec((Path(__file__).resolve().parent.parent / "gunicorn.conf.py").read_text())
del post_fork, worker_exit  # noqa: F821 (defined by the exec above)
