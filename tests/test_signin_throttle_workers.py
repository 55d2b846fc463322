"""Issue 14.4's "done when", against `make run`'s shape: real gunicorn, 4 workers, 127.0.0.1.

Twelve wrong passwords for one username from one address, sent four at a time so every worker
gets some: at most five passwords are checked (counted from the site's own log line for each
failed check, not from timing), and the owner's right password from another address (the
client binds 127.0.0.2 as its source; the app trusts no X-Forwarded-For) still signs in.
With the old per-worker `memory://` counters each worker allowed five of its own.
"""

from __future__ import annotations

import http.client
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from bench import load

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CHECK_LOGGED = "sign-in failed for"


def _sign_in(port: int, source: str, username: str, password: str) -> int:
    """GET the form, POST it back with its cookie and token; the POST's status."""
    cookies: dict[str, str] = {}

    def call(method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(source, 0)
        )
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text

    status, page = call("GET", "/admin/login")
    assert status == 200, status
    fields = {"csrf_token": _CSRF.search(page).group(1), "username": username}
    return call("POST", "/admin/login", urlencode(fields | {"password": password}).encode())[0]


def test_four_workers_check_at_most_five_passwords_and_the_owner_still_gets_in(tmp_path):
    try:
        http.client.HTTPConnection("127.0.0.1", 9, source_address=("127.0.0.2", 0)).close()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address here")
    with load.serve(tmp_path, workers=4) as site:
        # The site answers as soon as one worker is up; the master forks the others meanwhile.
        deadline = time.monotonic() + 60
        while len(site.workers()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(site.workers()) == 4

        def guess(_attempt: int) -> int:
            return _sign_in(site.port, "127.0.0.1", load.ADMIN_USER, "wrong password")

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(guess, range(12)))
        assert set(statuses) <= {422, 429}, statuses
        checked = site.log.read_text(errors="replace").count(CHECK_LOGGED)
        assert statuses.count(422) == checked, (statuses, checked)
        assert 1 <= checked <= 5, (statuses, checked)
        assert statuses.count(429) >= 7

        owner = _sign_in(site.port, "127.0.0.2", load.ADMIN_USER, load.ADMIN_PASSWORD)
        assert owner == 302
        # The guessing address stays refused, even with the right password.
        assert _sign_in(site.port, "127.0.0.1", load.ADMIN_USER, load.ADMIN_PASSWORD) == 429
