"""The health service records the health of each study's finished trials and the alerts it raises."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from contracts.enums import AlertKind
from contracts.events import Event, TrialHealthAlert, TrialHealthAssessed
from services.health import bootstrap
from services.health.settings import HealthSettings
from services.runtime.bus.memory import InMemoryBus
from services.runtime.observability.health import HealthMetrics
from tests.support.bus import collect_events
from tests.support.events import epoch_completed, trial_completed
from tests.support.telemetry import epoch_telemetry, layer_telemetry, trial_metrics
from tests.support.waiting import eventually


async def test_a_finished_trial_sets_the_studys_health_and_its_alerts_are_counted_by_kind() -> None:
    registry = CollectorRegistry()
    bus = InMemoryBus()
    service = await bootstrap.start(bus, HealthSettings(), HealthMetrics(registry))
    seen: list[Event] = await collect_events(bus, "observer", ["trial.health_assessed", "trial.health_alert"])
    dead = layer_telemetry("conv1_act", kind="Activation", dead_fraction=0.95)
    try:
        await bus.publish(epoch_completed("s1", "t1", epoch_telemetry(1, layers=[dead])))
        await bus.publish(trial_completed("s1", "t1", trial_metrics(0.9, epochs_trained=1)))
        await eventually(
            lambda: any(isinstance(e, TrialHealthAssessed) and e.data.final for e in seen), "the final assessment"
        )
    finally:
        await service.stop()
        await bus.close()
    final = next(e for e in seen if isinstance(e, TrialHealthAssessed) and e.data.final)
    assessment = final.data.assessment
    assert registry.get_sample_value("hpo_trial_health", {"study": "s1", "component": "overall"}) == (
        assessment.overall_health
    )
    assert registry.get_sample_value("hpo_trial_health", {"study": "s1", "component": "neuron_utilization"}) == (
        assessment.components.neuron_utilization
    )
    raised = [e.data.alert.kind for e in seen if isinstance(e, TrialHealthAlert)]
    assert AlertKind.DEAD_LAYER in raised
    for kind in AlertKind:
        assert registry.get_sample_value("hpo_health_alerts_total", {"study": "s1", "kind": kind.value}) == (
            raised.count(kind)
        )
