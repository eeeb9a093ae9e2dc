"""Everything a report shows about one study, read once from the repository and parsed into
contract models; plots, tables and the Markdown report all draw from this view."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import ValidationError

from contracts.enums import AlertKind, TrialState
from contracts.health import HealthAssessment
from contracts.scoring import ScoreBreakdown
from contracts.search_space import ParamSpec
from contracts.study import StudyConfig
from contracts.telemetry import EpochTelemetry
from services.reporter.scoring import (
    ScoringRule,
    is_health_final,
    latest_assessment,
    score_trial,
    study_config,
    why_unscored,
)
from services.runtime.db.records import AlertRecord, EpochRecord, StudyRecord, TrialRecord
from services.runtime.db.repository import MAX_PAGE_SIZE, ReadModelRepository

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file-system-safe folder name for a study name."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "study"
    return cleaned[:120]


@dataclass(frozen=True)
class TrialView:
    """One trial attempt with its epochs, alerts and score, ready to plot and tabulate."""

    record: TrialRecord
    telemetry: list[EpochTelemetry]
    alerts: list[AlertRecord]
    breakdown: ScoreBreakdown | None
    unscored_reason: str
    assessment: HealthAssessment | None
    health_final: bool
    overfitting_epochs: tuple[int, ...]

    @property
    def number(self) -> int:
        return self.record.number if self.record.number is not None else -1

    @property
    def slug(self) -> str:
        """``trial_<n>`` (``trial_<n>_attempt<k>`` for retries): the trial's file and folder name."""
        base = f"trial_{self.number}"
        return base if self.record.attempt <= 1 else f"{base}_attempt{self.record.attempt}"

    @property
    def label(self) -> str:
        return f"#{self.number}" if self.record.attempt <= 1 else f"#{self.number} (attempt {self.record.attempt})"

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def score(self) -> float | None:
        return self.breakdown.score if self.breakdown else self.record.score

    @property
    def last(self) -> EpochTelemetry | None:
        return self.telemetry[-1] if self.telemetry else None


@dataclass(frozen=True)
class StudyView:
    """The study, its scoring rule and every trial (by number, then attempt)."""

    study: StudyRecord
    config: StudyConfig | None
    rule: ScoringRule
    trials: list[TrialView]
    best: TrialView | None
    param_specs: dict[str, ParamSpec] = field(default_factory=dict)

    @property
    def folder_name(self) -> str:
        return safe_name(self.study.name)

    @property
    def scored(self) -> list[TrialView]:
        return [t for t in self.trials if t.breakdown is not None]

    @cached_property
    def param_names(self) -> list[str]:
        """Once per view (every trials.csv row asks): the search space's order, then any other name, sorted."""
        used = {k for t in self.trials for k in t.record.params}
        seen = [name for name in self.param_specs if name in used]
        return seen + sorted(used - set(seen))

    def counts(self) -> dict[str, int]:
        counter = Counter(t.state for t in self.trials)
        return {state.value: counter.get(state.value, 0) for state in TrialState}

    def failure_reasons(self) -> list[tuple[str, str]]:
        return [(t.label, t.record.reason or "no reason given") for t in self.trials if t.state == TrialState.FAILED]


def overfitting_epochs(telemetry: list[EpochTelemetry], alerts: list[AlertRecord]) -> tuple[int, ...]:
    """Epochs to mark as overfitting: those named by overfitting alerts, plus every epoch where
    validation loss rose above its best so far while training loss kept falling."""
    marked = {a.epoch for a in alerts if a.kind == AlertKind.OVERFITTING and a.epoch is not None}
    best_val = math.inf
    previous_loss: float | None = None
    for epoch in telemetry:
        if epoch.val_loss is not None:
            rising = epoch.val_loss > best_val
            if rising and epoch.loss is not None and previous_loss is not None and epoch.loss < previous_loss:
                marked.add(epoch.epoch)
            best_val = min(best_val, epoch.val_loss)
        if epoch.loss is not None:
            previous_loss = epoch.loss
    return tuple(sorted(marked))


def _parse_epochs(records: list[EpochRecord]) -> list[EpochTelemetry]:
    parsed = []
    for record in records:
        try:
            parsed.append(EpochTelemetry.model_validate(record.telemetry))
        except ValidationError:
            parsed.append(
                EpochTelemetry(
                    epoch=max(record.epoch, 1),
                    loss=record.loss,
                    accuracy=record.accuracy,
                    val_loss=record.val_loss,
                    val_accuracy=record.val_accuracy,
                    epoch_seconds=record.epoch_seconds or 0.0,
                )
            )
    return sorted(parsed, key=lambda e: e.epoch)


def _all_trials(repository: ReadModelRepository, study_id: str) -> list[TrialRecord]:
    trials: list[TrialRecord] = []
    while True:
        page = repository.list_trials(study_id, offset=len(trials), limit=MAX_PAGE_SIZE)
        trials.extend(page)
        if len(page) < MAX_PAGE_SIZE:
            return trials


def load_study_view(repository: ReadModelRepository, study_id: str) -> StudyView:
    """Read the whole study from the read model. Raises ``LookupError`` for an unknown study."""
    study = repository.get_study(study_id)
    if study is None:
        raise LookupError(f"no study {study_id} in the read model")
    config = study_config(study)
    rule = ScoringRule.of(study)
    epochs_by_trial: dict[str, list[EpochRecord]] = defaultdict(list)
    for epoch in repository.epochs_for_study(study_id):
        epochs_by_trial[epoch.trial_id].append(epoch)
    alerts_by_trial: dict[str, list[AlertRecord]] = defaultdict(list)
    for alert in repository.alerts_for_study(study_id):
        alerts_by_trial[alert.trial_id].append(alert)

    views = []
    for record in _all_trials(repository, study_id):
        telemetry = _parse_epochs(epochs_by_trial.get(record.trial_id, []))
        alerts = alerts_by_trial.get(record.trial_id, [])
        breakdown = score_trial(record, rule)
        views.append(
            TrialView(
                record=record,
                telemetry=telemetry,
                alerts=alerts,
                breakdown=breakdown,
                unscored_reason="" if breakdown else why_unscored(record, rule),
                assessment=latest_assessment(record),
                health_final=is_health_final(record),
                overfitting_epochs=overfitting_epochs(telemetry, alerts),
            )
        )
    best_record = repository.best_trial(study_id)
    best = next((v for v in views if best_record and v.record.trial_id == best_record.trial_id), None)
    specs = {p.name: p for p in config.effective_search_space().params} if config else {}
    return StudyView(study=study, config=config, rule=rule, trials=views, best=best, param_specs=specs)
