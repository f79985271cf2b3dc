"""Generated request ids: 32 hex digits, never repeated, and never shared by forked workers."""

from __future__ import annotations

import os
import re

from travel_recharge.kit import edge


def test_ids_are_32_hex_digits_and_distinct() -> None:
    ids = [edge._new_request_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_draws_its_own_ids() -> None:
    """Without the reseed at fork, the child's first id would equal the parent's next one:
    both would continue the same generator state."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without running anything else
        os.write(writing, edge._new_request_id().encode())
        os._exit(0)
    os.close(writing)
    child = os.read(reading, 64).decode()
    os.close(reading)
    os.waitpid(pid, 0)
    parent = edge._new_request_id()
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child != parent
