"""Run Debian's wapiti against a demo instance on 127.0.0.1 and fail on any finding.

The site runs under gunicorn with a throwaway database and index; wapiti's modules are listed
explicitly (none of them looks anything up outside this machine; the external endpoint used by
the ssrf/xxe modules, which are not loaded, points at a dead loopback port), and both its crawl
and its attacks are bounded in time.

    python scripts/scan.py            # exits 1 when wapiti reports a vulnerability
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODULES = [
    "xss",
    "permanentxss",
    "sql",
    "exec",
    "file",
    "crlf",
    "redirect",
    "csrf",
    "methods",
    "backup",
    "htaccess",
    "http_headers",
    "cookieflags",
    "csp",
]
DEAD_ENDPOINT = "http://127.0.0.1:9/"


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
    raise SystemExit(f"scan: the site did not answer at {url}")


def main() -> int:
    if not shutil.which("wapiti"):
        print("scan: wapiti not found (apt-get install wapiti)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="microsite-scan."))
    port = spare_port()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(16),
        "DATABASE_URL": f"sqlite:///{work / 'site.sqlite3'}",
        "MICROSITE_SEARCH_INDEX_DIR": str(work / "index"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESSLOG": str(work / "access.log"),
        "FLASK_APP": "wsgi",
        "SESSION_COOKIE_SECURE": "1",
    }
    # Served over TLS as in production, so HSTS and Secure cookies are what is scanned.
    cert, key = self_signed_certificate(work)
    subprocess.run([BIN / "flask", "demo"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [BIN / "gunicorn", "-c", "gunicorn.conf.py", "--certfile", cert, "--keyfile", key]
        + ["wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    base = f"https://127.0.0.1:{port}/"
    try:
        wait_for(base)
        report = work / "report.json"
        command = [
            "wapiti",
            *("-u", base, "--scope", "folder", "-m", ",".join(MODULES)),
            *("-d", "3", "--max-links-per-page", "40", "--max-parameters", "10"),
            *("--max-scan-time", "420", "--max-attack-time", "60", "--timeout", "10"),
            # Only the ssrf/xxe modules (not loaded) call out to an endpoint; point it nowhere.
            *("--external-endpoint", DEAD_ENDPOINT, "--no-bugreport", "--flush-session"),
            *("--store-session", str(work / "session"), "-f", "json", "-o", str(report)),
            *("-v", "0"),
        ]
        subprocess.run(command, check=True, timeout=900)
        findings = json.loads(report.read_text(encoding="utf-8"))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    vulnerabilities = {k: v for k, v in findings.get("vulnerabilities", {}).items() if v}
    anomalies = {k: v for k, v in findings.get("anomalies", {}).items() if v}
    requests = len((work / "access.log").read_text(encoding="utf-8").splitlines())
    print(f"scan: {len(MODULES)} modules, {requests} requests answered by the site")
    for kind, items in {**vulnerabilities, **anomalies}.items():
        for item in items:
            print(f"  {kind}: {item.get('method')} {item.get('path')} {item.get('info')}")
    if vulnerabilities or anomalies:
        print(
            f"scan: {sum(map(len, vulnerabilities.values()))} vulnerabilities, "
            f"{sum(map(len, anomalies.values()))} anomalies (report: {report})"
        )
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("scan: no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
