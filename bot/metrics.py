"""Counters and gauges in the Prometheus text exposition format (version 0.0.4).

A process keeps its own counters, such as webhook requests and dialogue
turns. Values that several processes share, such as SMS sends by outcome,
are counted from the database when the metrics are rendered, so every
replica reports the same totals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels)
    return "{" + inner + "}"


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class Metric:
    """One metric family: a name, its type, help text and samples by labels."""

    name: str
    kind: str
    help: str
    samples: dict[Labels, float] = field(default_factory=dict)

    def render(self) -> str:
        """Render the family as exposition text, ending with a newline."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in sorted(self.samples.items()):
            lines.append(f"{self.name}{_format_labels(labels)} {_format_value(value)}")
        return "\n".join(lines) + "\n"


class Counter:
    """A process-local counter with labels; safe to increment from any thread.

    Args:
        name: Metric name, ending in `_total` by convention.
        help: One line that describes what is counted.
        labelnames: Names of the labels every increment must give.
    """

    def __init__(self, name: str, help: str, labelnames: tuple[str, ...] = ()):
        self.name = name
        self.help = help
        self.labelnames = labelnames
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add `amount` to the sample with these label values.

        Raises:
            ValueError: The labels differ from `labelnames`.
        """
        if set(labels) != set(self.labelnames):
            raise ValueError(
                f"{self.name} needs labels {self.labelnames}, got {tuple(labels)}"
            )
        key = tuple((name, str(labels[name])) for name in self.labelnames)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """Return the current value of one sample (0 when never incremented)."""
        key = tuple((name, str(labels[name])) for name in self.labelnames)
        with self._lock:
            return self._values.get(key, 0.0)

    def metric(self) -> Metric:
        """Return a snapshot of the counter as a `Metric`."""
        with self._lock:
            return Metric(self.name, "counter", self.help, dict(self._values))


def render(metrics: list[Metric]) -> str:
    """Render metric families as one exposition document."""
    return "".join(metric.render() for metric in metrics)
