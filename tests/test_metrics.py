"""Prometheus text rendering of counters and gauges."""

from __future__ import annotations

import threading

import pytest

from bot.metrics import Counter, Metric, render


def test_counter_renders_help_type_and_samples():
    counter = Counter("hpsm_things_total", "Things seen, by kind.", ("kind",))
    counter.inc(kind="a")
    counter.inc(2, kind="b")
    counter.inc(kind="a")

    assert render([counter.metric()]) == (
        "# HELP hpsm_things_total Things seen, by kind.\n"
        "# TYPE hpsm_things_total counter\n"
        'hpsm_things_total{kind="a"} 2\n'
        'hpsm_things_total{kind="b"} 2\n'
    )


def test_counter_without_samples_renders_header_only():
    counter = Counter("hpsm_none_total", "Nothing yet.", ("kind",))

    assert render([counter.metric()]).splitlines() == [
        "# HELP hpsm_none_total Nothing yet.",
        "# TYPE hpsm_none_total counter",
    ]


@pytest.mark.parametrize(
    "value, expected",
    [('say "hi"', 'say \\"hi\\"'), ("a\\b", "a\\\\b"), ("two\nlines", "two\\nlines")],
)
def test_label_values_escaped(value, expected):
    metric = Metric("hpsm_x", "gauge", "X.", {(("label", value),): 1})

    assert f'hpsm_x{{label="{expected}"}} 1' in metric.render()


@pytest.mark.parametrize("value, expected", [(3, "3"), (2.5, "2.5"), (0.0, "0")])
def test_gauge_values(value, expected):
    metric = Metric("hpsm_gauge", "gauge", "A gauge.", {(): value})

    assert metric.render().splitlines()[-1] == f"hpsm_gauge {expected}"


@pytest.mark.parametrize("labels", [{}, {"kind": "a", "extra": "b"}, {"other": "a"}])
def test_counter_rejects_wrong_labels(labels):
    counter = Counter("hpsm_things_total", "Things.", ("kind",))

    with pytest.raises(ValueError, match="needs labels"):
        counter.inc(**labels)


def test_counter_safe_across_threads():
    counter = Counter("hpsm_threads_total", "Increments.", ("kind",))

    def work() -> None:
        for _ in range(1000):
            counter.inc(kind="a")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counter.value(kind="a") == 8000
