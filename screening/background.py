"""The loop of the service's background threads (bulk jobs, monitoring runs, webhook deliveries): a step, then a
poll wait. While the step fails (the database down, mostly) each failure is one log line, the traceback only at
DEBUG, and the wait doubles up to a cap; the first success after failures says so and polls normally again."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

BACKOFF_FIRST, BACKOFF_CAP = 1.0, 60.0  # the wait after a failure, doubling up to the cap


class Backoff:
    """Waits after consecutive failures: first, doubling, at most cap."""

    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP):
        self.first, self.cap, self.failures = first, cap, 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * 2 ** min(self.failures, 32))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def poll_loop(what: str, step: Callable[[], Any], poll_seconds: Callable[[], float], stop: threading.Event, log:
              logging.Logger, *, sleep: Callable[[float], Any] | None = None, backoff: Backoff | None = None) -> None:
    """Run `step` until `stop`, waiting `poll_seconds()` after a success and backing off after a failure; `what`
    names the thread in the log lines, written to the caller's logger."""
    wait = sleep or stop.wait
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            step()
        except Exception as exc:
            delay = backoff.next_delay()
            log.warning("%s failed (%d in a row): %s; trying again in %.0f s", what, backoff.failures,
                        one_line(exc), delay, exc_info=log.isEnabledFor(logging.DEBUG))
            wait(delay)
            continue
        if backoff.failures:
            log.info("%s works again after %d failures", what, backoff.failures)
            backoff.reset()
        wait(poll_seconds())
