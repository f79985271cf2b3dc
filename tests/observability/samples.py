"""Reading this process' metrics the way Prometheus would see them."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

PREFIX = "travel_recharge"


def value(name: str, **labels: str) -> float:
    """The current value of one series of the in-process registry (0 if never touched)."""
    return REGISTRY.get_sample_value(f"{PREFIX}_{name}", labels) or 0.0


def scraped(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`, in a scrape."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{PREFIX}_{name}" and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def label_values(label: str) -> set[str]:
    """Every value the label takes across the in-process registry."""
    return {
        sample.labels[label]
        for family in REGISTRY.collect()
        for sample in family.samples
        if label in sample.labels
    }
