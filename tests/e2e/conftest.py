"""The launcher's working directory lies outside pytest's temporary root.

The embedded PostgreSQL runs as an account of its own when the suite runs as root, and
reaches its files only while every folder above them lets it through. pytest's root
(/tmp/pytest-of-root) is made 0700 again by every pytest session that starts on the machine,
which would cut a running server off from its files mid-test (it then stops with a PANIC).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tr-e2e-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
