"""Log configuration: one handler and format for everything, and no line per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from travel_recharge.kit.logs import configure_logging, log_event

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in LOGGERS
    }
    level = logging.getLogger().level
    yield
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate
    logging.getLogger().setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_events_and_uvicorn_errors_are_logged_but_not_each_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", as_json=False)
    log_event(logging.getLogger("travel_recharge.test"), "recharge.created", amount=5000)
    logging.getLogger("uvicorn.error").warning("worker timeout")
    logging.getLogger("uvicorn.access").info('127.0.0.1:1 - "POST /api/v1/trips/start" 201')
    lines = capsys.readouterr().err.splitlines()
    assert any("recharge.created" in line and "amount=5000" in line for line in lines)
    assert any("worker timeout" in line for line in lines)
    assert not any("/api/v1/trips/start" in line for line in lines)
    assert len(lines) == 2
