"""The metric catalog (services/runtime/observability/catalog.py) against the code and the dashboards:
every metric the code exports is documented with its type and labels, every metric a dashboard or rule
uses exists, and every exported metric is used or says why not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from contracts.enums import AlertKind, StudyState
from dashboards.model import load_all, queries, variables
from services.runtime.observability.catalog import METRICS, by_name
from services.runtime.observability.health import HealthMetrics
from services.runtime.observability.metrics import ServiceMetrics
from services.runtime.observability.studies import StudyMetrics
from services.runtime.observability.training import TrainingMetrics
from services.trainer.gpu import GpuCollector
from tests.support.telemetry import epoch_telemetry, health_assessment, layer_telemetry

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "rules"
NAME = re.compile(r"(?<![\w:$])(hpo[_:][a-zA-Z0-9_:]+|rabbitmq_[a-zA-Z0-9_]+|up)(?![\w:(])")


def _exercised_registries() -> list[CollectorRegistry]:
    """Each service's registry with every metric given at least one sample."""
    bus = ServiceMetrics("scheduler")
    bus.watch(lambda: True, lambda: True)
    bus.queue_bound("scheduler", ["trial.completed"])
    bus.handler_seconds.labels("scheduler", "scheduler", "trial.completed").observe(0.1)
    bus.lag_seconds.labels("scheduler", "scheduler", "trial.completed").observe(0.1)
    bus.published.labels("scheduler", "trial.requested").inc()
    studies = StudyMetrics()
    studies.study_started("s1", "first")
    studies.trial_completed("s1", 0.7, 12.0)
    studies.study_ended("s2", StudyState.COMPLETED)
    studies.study_started("s3", "third")
    training = TrainingMetrics("t1")
    training.trial_started("s1", 0, 3)
    layer = layer_telemetry("conv1", gradient_norm=0.5, dead_fraction=0.1, saturated_fraction=0.0)
    training.epoch_completed("s1", epoch_telemetry(1, layers=[layer]))
    health = HealthMetrics()
    health.assessed("s1", health_assessment())
    health.alert("s1", AlertKind.DEAD_LAYER)
    gpu = CollectorRegistry()
    gpu.register(_DescribedGpu())
    return [bus.registry, studies.registry, training.registry, health.registry, gpu]


class _DescribedGpu(GpuCollector):
    """The GPU collector's families as it describes them (this machine may have no GPU to read)."""

    def __init__(self) -> None:
        super().__init__("t1", nvidia_smi="/nonexistent/nvidia-smi")

    def collect(self) -> Iterator[Metric]:
        for family in self.describe():
            assert isinstance(family, GaugeMetricFamily)
            family.add_metric(["t1", "0"], 0.5)
            yield family


def _exported() -> dict[str, tuple[str, tuple[str, ...]]]:
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for registry in _exercised_registries():
        for family in registry.collect():
            name = f"{family.name}_total" if family.type == "counter" else family.name
            labels = sorted({label for sample in family.samples for label in sample.labels if label != "le"})
            assert family.samples, f"{name} was not exercised"
            found[name] = (family.type, tuple(labels))
    return found


def _used() -> tuple[set[str], set[str], set[str]]:
    """Metric names used by dashboards, by rules, and the recording rules' own names."""
    on_dashboards = set()
    for dashboard in load_all():
        for query in queries(dashboard):
            on_dashboards |= set(NAME.findall(query.expr))
        for variable in variables(dashboard):
            on_dashboards |= set(NAME.findall(variable.query))
    in_rules, recorded = set(), set()
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                in_rules |= set(NAME.findall(rule["expr"]))
                if "record" in rule:
                    recorded.add(rule["record"])
    return on_dashboards, in_rules, recorded


def _documented_series() -> dict[str, str]:
    return {series: doc.name for doc in METRICS for series in doc.series_names}


def test_the_catalog_lists_exactly_what_the_code_exports_with_types_and_labels() -> None:
    exported = _exported()
    ours = {doc.name: doc for doc in METRICS if not doc.external}
    assert set(exported) == set(ours), set(exported) ^ set(ours)
    for name, (kind, labels) in exported.items():
        assert (kind, labels) == (ours[name].type, tuple(sorted(ours[name].labels))), name
    assert len(by_name()) == len(METRICS), "a metric is listed twice"


def test_every_metric_a_dashboard_or_rule_uses_exists() -> None:
    on_dashboards, in_rules, recorded = _used()
    documented = _documented_series()
    unknown = {name for name in on_dashboards | in_rules if name not in documented and name not in recorded}
    assert not unknown, f"used but exported by nothing: {sorted(unknown)}"
    assert recorded <= on_dashboards | in_rules, f"recording rules nothing reads: {sorted(recorded - on_dashboards)}"


def test_every_exported_metric_is_used_or_says_why_not() -> None:
    on_dashboards, in_rules, _ = _used()
    used = {_documented_series()[name] for name in on_dashboards | in_rules if name in _documented_series()}
    for doc in METRICS:
        if doc.shown:
            assert doc.name in used, f"{doc.name} is on no dashboard and in no rule; use it or say why (shown=False)"
        else:
            assert doc.note, f"{doc.name} is not shown: say why in its note"
            assert doc.name not in used, f"{doc.name} is used: mark it shown"
    assert any(not doc.shown for doc in METRICS)  # the check above can fail both ways


def test_labels_are_from_the_bounded_set() -> None:
    bounded = {"service", "queue", "type", "cause", "state", "kind", "component", "split", "gpu", "trainer",
               "layer", "study", "study_name", "vhost", "protocol", "job", "instance"}  # fmt: skip
    for doc in METRICS:
        assert set(doc.labels) <= bounded, (doc.name, set(doc.labels) - bounded)
        assert "trial" not in " ".join(doc.labels) and "epoch" not in " ".join(doc.labels), doc.name
