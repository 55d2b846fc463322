"""Run Debian's wapiti against a demo instance on 127.0.0.1 and fail on any finding.

The site runs under gunicorn with a throwaway database and index; wapiti's modules are listed
explicitly (none of them looks anything up outside this machine; the external endpoint used by
the ssrf/xxe modules, which are not loaded, points at a dead loopback port), and both its crawl
and its attacks are bounded in time.

    python scripts/scan.py            # exits 1 when wapiti reports a vulnerability
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from demo_server import demo_server

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


def main() -> int:
    if not shutil.which("wapiti"):
        print("scan: wapiti not found (apt-get install wapiti)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="microsite-scan."))
    report = work / "report.json"
    # Served over TLS as in production, so HSTS and Secure cookies are what is scanned.
    with demo_server(work, workers=2, tls=True) as base:
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
