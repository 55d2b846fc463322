"""The sign-in throttle: how many password checks an address and a username may cost.

Every worker and every host counts in one place: the site's database by default (the
`sign_in_attempts` table, no extra server), Redis when `RATELIMIT_STORAGE_URI` is a `redis://`
URL. Each attempt is recorded *before* its password is checked and counted against the
limits with every other attempt already recorded, so four workers racing each other still
check at most the limit.

The policy, in one place (`_verdict`):
- per client address, any usernames: `PER_ADDRESS` failures per `WINDOW` seconds;
- per username and address: `PER_PAIR` failures per `WINDOW` seconds;
- per username from all addresses: `USERNAME_FREE` failures per `USERNAME_WINDOW`, then each
  further check waits a growing delay after the previous one (30 s, 60 s, … up to 5 minutes).
  The username is slowed down, never locked: an address this account signed in from during
  the last `KNOWN_DAYS` days skips the delay, so the owner's right password still signs in
  while someone elsewhere guesses.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import delete, insert, or_, select, update
from werkzeug.exceptions import TooManyRequests

from .. import text
from ..content.models import SignInAttempt
from ..extensions import db
from ..web.client import client_address
from .usernames import throttle_key

WINDOW = 5 * 60
PER_ADDRESS = 5
PER_PAIR = 5
USERNAME_WINDOW = 15 * 60
USERNAME_FREE = 10
USERNAME_FIRST_DELAY = 30
USERNAME_MAX_DELAY = 5 * 60
KNOWN_DAYS = 30
_EXTENSION = "microsite_throttle"


def now() -> float:
    """Unix time from the site's clock (the `CLOCK` setting: tests move it, never sleep)."""
    return text.utc_now().timestamp()


@dataclass
class Seen:
    """Other attempts the limits count (times in Unix seconds), and whether the address is
    one this account signed in from lately."""

    address: list[float] = field(default_factory=list)
    pair: list[float] = field(default_factory=list)
    username: list[float] = field(default_factory=list)
    known: bool = False


@dataclass
class Ticket:
    """One recorded attempt, settled after its password check."""

    store: object
    ref: object
    username: str
    address: str


def _frees_at(times: list[float], limit: int, window: float) -> float | None:
    """When fewer than `limit` of `times` are left inside `window` (None: already so)."""
    if len(times) < limit:
        return None
    return sorted(times)[len(times) - limit] + window


def _verdict(seen: Seen, at: float) -> float | None:
    """None if this attempt may be checked, else the time to come back."""
    waits = [
        _frees_at(seen.address, PER_ADDRESS, WINDOW),
        _frees_at(seen.pair, PER_PAIR, WINDOW),
    ]
    over = len(seen.username) - USERNAME_FREE
    if over >= 0 and not seen.known:
        delay = min(USERNAME_FIRST_DELAY * 2**over, USERNAME_MAX_DELAY)
        waits.append(max(seen.username) + delay)
    due = [wait for wait in waits if wait is not None and wait > at]
    return max(due) if due else None


# --- stores -----------------------------------------------------------------------------------


class DatabaseStore:
    """The `sign_in_attempts` table of the site's own database (SQLite or PostgreSQL)."""

    def reserve(self, username: str, address: str, at: float) -> tuple[int, Seen]:
        table = SignInAttempt.__table__
        # Own short transactions: the throttle's rows are committed whatever the view does.
        with db.engine.begin() as connection:
            connection.execute(
                delete(table).where(
                    or_(
                        (table.c.outcome != "ok") & (table.c.at < at - USERNAME_WINDOW),
                        table.c.at < at - KNOWN_DAYS * 86400,
                    )
                )
            )
            row_id = connection.execute(
                insert(table).values(username=username, address=address, at=at, outcome="pending")
            ).inserted_primary_key[0]
        with db.engine.connect() as connection:
            rows = connection.execute(
                select(table.c.username, table.c.address, table.c.at).where(
                    table.c.id != row_id,
                    table.c.outcome != "ok",
                    table.c.at > at - USERNAME_WINDOW,
                    or_(table.c.username == username, table.c.address == address),
                )
            ).all()
            known = connection.execute(
                select(table.c.id)
                .where(
                    table.c.username == username,
                    table.c.address == address,
                    table.c.outcome == "ok",
                )
                .limit(1)
            ).first()
        here = [r for r in rows if r.address == address and r.at > at - WINDOW]
        seen = Seen(
            address=[r.at for r in here],
            pair=[r.at for r in here if r.username == username],
            username=[r.at for r in rows if r.username == username],
            known=known is not None,
        )
        return row_id, seen

    def _set(self, row_id: int, outcome: str | None) -> None:
        table = SignInAttempt.__table__
        with db.engine.begin() as connection:
            if outcome is None:
                connection.execute(delete(table).where(table.c.id == row_id))
            else:
                marked = update(table).where(table.c.id == row_id).values(outcome=outcome)
                connection.execute(marked)

    def release(self, ticket: Ticket) -> None:
        self._set(ticket.ref, None)

    def failed(self, ticket: Ticket) -> None:
        self._set(ticket.ref, "failed")

    def succeeded(self, ticket: Ticket) -> None:
        # The row stays as "ok": it marks this address as known for the account.
        self._set(ticket.ref, "ok")


class RedisStore:
    """Sorted sets in Redis, one per counted key, for several hosts without a shared database
    write per attempt (or when the operator already runs Redis)."""

    PREFIX = "microsite:sign-in:"

    def __init__(self, uri: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(uri)

    def _keys(self, username: str, address: str) -> dict[str, tuple[str, int]]:
        p = self.PREFIX
        return {
            "address": (f"{p}address:{address}", WINDOW),
            "pair": (f"{p}pair:{address}:{username}", WINDOW),
            "username": (f"{p}username:{username}", USERNAME_WINDOW),
        }

    def reserve(self, username: str, address: str, at: float) -> tuple[str, Seen]:
        member = f"{at:.6f}:{uuid.uuid4().hex}"
        keys = self._keys(username, address)
        known_key = f"{self.PREFIX}known:{username}"
        pipe = self.redis.pipeline(transaction=True)
        for key, window in keys.values():
            pipe.zremrangebyscore(key, "-inf", at - window)
            pipe.zadd(key, {member: at})
            pipe.expire(key, window)
            pipe.zrange(key, 0, -1, withscores=True)
        pipe.zremrangebyscore(known_key, "-inf", at - KNOWN_DAYS * 86400)
        pipe.zscore(known_key, address)
        results = pipe.execute()
        mine = member.encode()
        times = {}
        for position, name in enumerate(keys):
            entries = results[position * 4 + 3]
            times[name] = [score for entry, score in entries if entry != mine]
        return member, Seen(**times, known=results[-1] is not None)

    def _forget(self, ticket: Ticket) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for key, _window in self._keys(ticket.username, ticket.address).values():
            pipe.zrem(key, ticket.ref)
        pipe.execute()

    def release(self, ticket: Ticket) -> None:
        self._forget(ticket)

    def failed(self, ticket: Ticket) -> None:
        pass  # stays counted until its window passes

    def succeeded(self, ticket: Ticket) -> None:
        self._forget(ticket)
        known_key = f"{self.PREFIX}known:{ticket.username}"
        self.redis.zadd(known_key, {ticket.address: now()})
        self.redis.expire(known_key, KNOWN_DAYS * 86400)


def _store():
    return current_app.extensions[_EXTENSION]


def _make_store(uri: str):
    if uri.startswith(("redis://", "rediss://", "redis+unix://", "unix://")):
        return RedisStore(uri)
    return DatabaseStore()


# --- what views call ------------------------------------------------------------------------


def _refusal(retry_at: float, what: str) -> TooManyRequests:
    seconds = max(1, math.ceil(retry_at - now()))
    minutes = max(1, round(seconds / 60))
    # In the site's clock, as every other time on the site (now() already follows it).
    clock = datetime.fromtimestamp(retry_at, text.SITE_TZ)
    message = f"{what}次数过多。为保护账户，请在 {clock:%H:%M:%S}（约 {minutes} 分钟后）再试。"
    return TooManyRequests(message, retry_after=seconds)


def check(username: str, what: str = "登录失败") -> Ticket | None:
    """Record an attempt on `username` from this client before its password is checked.

    Raises a 429 (with Retry-After and the time to come back) when over a limit; None when
    throttling is switched off (RATELIMIT_ENABLED=False, some tests).
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    at = now()
    address = (client_address() or "")[:64]
    ticket_user = throttle_key(username)
    ref, seen = _store().reserve(ticket_user, address, at)
    ticket = Ticket(_store(), ref, ticket_user, address)
    retry_at = _verdict(seen, at)
    if retry_at is not None:
        ticket.store.release(ticket)  # a refused attempt checks nothing, so it costs nothing
        raise _refusal(retry_at, what)
    return ticket


def settle(ticket: Ticket | None, ok: bool) -> None:
    """After the password check: a failure keeps counting; a success counts nothing and makes
    this address a known one for the account."""
    if ticket is None:
        return
    if ok:
        ticket.store.succeeded(ticket)
    else:
        ticket.store.failed(ticket)


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = _make_store(app.config.get("RATELIMIT_STORAGE_URI") or "")
