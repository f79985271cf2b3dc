"""A scrape while a worker is starting: its sample file exists but holds no header yet."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from travel_recharge.observability.exposition import WrittenFilesCollector


def test_a_sample_file_still_being_created_does_not_fail_the_scrape(tmp_path: Path) -> None:
    served = MmapedDict(str(tmp_path / "counter_101.db"))
    name = "travel_recharge_replays"
    served.write_value(mmap_key(name, f"{name}_total", [], [], "help"), 3.0, 0.0)
    served.close()
    (tmp_path / "counter_102.db").touch()  # the starting worker's, 0 bytes so far

    registry = CollectorRegistry()
    WrittenFilesCollector(registry, str(tmp_path))
    assert f"{name}_total 3.0".encode() in generate_latest(registry)

    # prometheus-client's own collector fails the whole scrape on that file.
    stock = CollectorRegistry()
    MultiProcessCollector(stock, str(tmp_path))
    with pytest.raises(struct.error):
        generate_latest(stock)
