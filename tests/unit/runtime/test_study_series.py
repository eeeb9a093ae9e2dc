"""StudySeries: a study's label sets go together, when forgotten, ended (after a grace time), idle, or
least recently seen of too many."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from services.runtime.observability.series import StudySeries


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _gauge() -> tuple[CollectorRegistry, Gauge]:
    registry = CollectorRegistry()
    return registry, Gauge("g", "g", ["study", "x"], registry=registry)


def _studies(registry: CollectorRegistry) -> set[str]:
    return {sample.labels["study"] for family in registry.collect() for sample in family.samples}


def test_forget_removes_every_label_set_of_a_study_or_only_some_metrics() -> None:
    registry, gauge = _gauge()
    other = Gauge("h", "h", ["study"], registry=registry)
    series = StudySeries(max_studies=5, idle_seconds=60)
    series.labels(gauge, "a", "1").set(1)
    series.labels(gauge, "a", "2").set(2)
    series.labels(other, "a").set(3)
    series.labels(gauge, "b", "1").set(4)
    series.forget("a", only=[gauge])
    assert registry.get_sample_value("g", {"study": "a", "x": "1"}) is None
    assert registry.get_sample_value("h", {"study": "a"}) == 3
    series.forget("a")
    assert _studies(registry) == {"b"} and series.studies() == ["b"]


def test_an_ended_study_stays_its_grace_time_then_goes() -> None:
    clock = Clock()
    registry, gauge = _gauge()
    series = StudySeries(max_studies=5, idle_seconds=3600, ended_ttl_seconds=60, clock=clock)
    series.labels(gauge, "a", "1").set(1)
    series.end("a")
    clock.now += 59
    assert series.studies() == ["a"]
    clock.now += 1
    assert series.studies() == [] and _studies(registry) == set()


def test_an_idle_study_expires_and_the_least_recently_seen_goes_beyond_the_cap() -> None:
    clock = Clock()
    registry, gauge = _gauge()
    series = StudySeries(max_studies=2, idle_seconds=100, clock=clock)
    for study in ("a", "b"):
        series.labels(gauge, study, "1").set(1)
    clock.now += 50
    series.touch("a")
    series.labels(gauge, "c", "1").set(1)  # three studies: b, the least recently seen, goes
    assert series.studies() == ["a", "c"]
    clock.now += 100
    assert series.studies() == [] and _studies(registry) == set()


def test_running_studies_are_kept_beyond_the_cap_when_they_may_not_be_evicted() -> None:
    _, gauge = _gauge()
    series = StudySeries(max_studies=1, idle_seconds=3600, ended_ttl_seconds=600, evict_running=False)
    for study in ("a", "b", "c"):
        series.labels(gauge, study, "1").set(1)
    assert series.studies() == ["a", "b", "c"]
    series.end("a")
    series.end("b")
    assert series.studies() == ["c", "b"]  # of the ended ones, at most one is kept: the last to end
