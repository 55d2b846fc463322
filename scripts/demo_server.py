"""A throwaway demo site under gunicorn on 127.0.0.1, for scripts that look at it from outside.

with demo_server(work_dir, workers=2, tls=True) as base_url:
    ...
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_certificate(work: Path) -> tuple[Path, Path]:
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    unverified = ssl._create_unverified_context()  # our own throwaway certificate
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=unverified):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the demo site did not answer at {url}")


@contextmanager
def demo_server(work: Path, workers: int = 2, tls: bool = False) -> Iterator[str]:
    """Load the demo into a fresh database and index under `work`, serve it, yield its URL.

    The access log goes to work/access.log.
    """
    port = spare_port()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(16),
        "DATABASE_URL": f"sqlite:///{work / 'site.sqlite3'}",
        "MICROSITE_SEARCH_INDEX_DIR": str(work / "index"),
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_ACCESSLOG": str(work / "access.log"),
        "FLASK_APP": "wsgi",
    }
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"]
    if tls:
        cert, key = self_signed_certificate(work)
        command += ["--certfile", str(cert), "--keyfile", str(key)]
        env["SESSION_COOKIE_SECURE"] = "1"
    subprocess.run([BIN / "flask", "demo"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen([*command, "wsgi:app"], cwd=ROOT, env=env)
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}/"
    try:
        wait_for(base)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
