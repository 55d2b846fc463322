"""A clock tests move instead of sleeping, given to one app through its `CLOCK` setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovableClock:
    """The machine's clock plus an offset that only moves forward when a test says so."""

    def __init__(self, frozen: bool = False) -> None:
        self.offset = timedelta(0)
        # A frozen clock reads the same instant until moved: for tests that compare stamps to
        # the second, where a real second passing mid-test would change the answer.
        self.frozen_at = datetime.now(UTC) if frozen else None

    def __call__(self) -> datetime:
        return (self.frozen_at or datetime.now(UTC)) + self.offset

    def set(self, unix_time: float) -> None:
        """Move the clock so that it reads `unix_time` now (it keeps running from there)."""
        self.offset = datetime.fromtimestamp(unix_time, UTC) - datetime.now(UTC)

    def move(self, delta: timedelta | None = None, **units: float) -> None:
        """move(timedelta(minutes=2)) or move(minutes=2)."""
        self.offset += delta if delta is not None else timedelta(**units)


def movable_clock(app, frozen: bool = False) -> MovableClock:
    """This app's clock, made movable first if it is not yet (other apps keep theirs)."""
    clock = app.config.get("CLOCK")
    if not isinstance(clock, MovableClock):
        clock = app.config["CLOCK"] = MovableClock(frozen=frozen)
    return clock
