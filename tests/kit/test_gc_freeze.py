"""Start-up objects are frozen out of the cyclic collector's reach.

A full collection over the ~140,000 objects start-up leaves (modules, the app, its routes,
reference data) took 40-80 ms and stalled every request in flight: the periodic p99 spikes
of the benchmark suite. The lifespan freezes them once it has started.
"""

from __future__ import annotations

import gc

from fastapi import FastAPI


def test_the_lifespan_freezes_what_start_up_made(app: FastAPI) -> None:
    assert app.state.read_paths is not None  # the lifespan has run
    # Frozen objects are many (everything imported and built at start-up), and a full
    # collection no longer visits them.
    assert gc.get_freeze_count() > 50_000
