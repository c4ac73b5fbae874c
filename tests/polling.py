"""Waiting for something a real process does, with a deadline instead of a fixed sleep."""

import time


def wait_for(condition, timeout=20, what="the condition"):
    """The first truthy value of `condition()`, polled every 0.1 s for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
