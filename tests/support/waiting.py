"""The one way tests wait: poll a condition with a deadline, instead of a fixed sleep."""

from __future__ import annotations

import time


def wait_until(condition, seconds: float, what: str = "the condition", every: float = 0.05):
    """condition()'s first true value, polled until `seconds` pass; fails the test past it."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(every)
