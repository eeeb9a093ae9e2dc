"""Grafana's template variables and interval macros, filled in the way Grafana fills them."""

from __future__ import annotations

import pytest

from dashboards.promql import Intervals, duration, expand, python_regex, query_result_line
from services.cli.dashboards_snapshot import legend, metric_names


@pytest.mark.parametrize(
    ("range_seconds", "scrape", "interval", "rate_interval"),
    [
        (3600, 15, 15, 60),  # an hour at 15 s: the interval is the scrape interval, rate over 4 of them
        (86400, 15, 87, 102),  # a day: 1000 points, so an interval of 87 s; rate over interval + scrape
        (600, 1, 1, 4),  # the test's Prometheus scrapes every second
    ],
)
def test_intervals_follow_grafanas_formula(
    range_seconds: float, scrape: float, interval: float, rate_interval: float
) -> None:
    intervals = Intervals.for_range(range_seconds, scrape)
    assert (intervals.interval_seconds, intervals.rate_interval_seconds) == (interval, rate_interval)


def test_macros_and_variables_are_substituted_longest_name_first() -> None:
    intervals = Intervals(interval_seconds=15, rate_interval_seconds=60, range_seconds=3600)
    expr = 'rate(x{study="$study", trainer=~"${trainer}"}[$__rate_interval]) + increase(y[$__range]) + z[$__interval]'
    assert expand(expr, {"study": "s1", "trainer": ".*"}, intervals) == (
        'rate(x{study="s1", trainer=~".*"}[60s]) + increase(y[3600s]) + z[15s]'
    )
    assert expand("$unknown and $__interval_ms", {}, intervals) == "$unknown and 15000"
    assert duration(0.25) == "250ms" and duration(4) == "4s"


def test_a_variable_regex_with_named_groups_reads_text_and_value() -> None:
    pattern = python_regex('/study="(?<value>[^"]+)",study_name="(?<text>[^"]+)"/')
    assert pattern is not None
    line = query_result_line({"metric": {"study": "ab12", "study_name": "mnist-1"}, "value": [0, "1"]}, 10.0)
    assert line == '{study="ab12",study_name="mnist-1"} 1 10000'
    found = pattern.search(line)
    assert found is not None and found.group("value") == "ab12" and found.group("text") == "mnist-1"
    assert python_regex("") is None


def test_legends_and_metric_names_of_a_query() -> None:
    assert legend("{{trainer}} {{split}}", {"trainer": "t1", "split": "train"}) == "t1 train"
    assert legend("__auto", {"__name__": "x", "b": "2", "a": "1"}) == "a=1, b=2"
    expr = 'hpo:trials:per_minute + sum(rabbitmq_detailed_queue_consumers{queue=~"x"}) / hpo_trial_loss_total'
    assert metric_names(expr) == ["hpo:trials:per_minute", "hpo_trial_loss_total", "rabbitmq_detailed_queue_consumers"]
