"""The median pruner's warm-up and start-up rules, on a real Optuna study."""

from __future__ import annotations

import optuna

from contracts.enums import PrunerName
from services.scheduler.pruning import build_pruner


def _study(trials: int, max_epochs: int) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        direction="maximize", pruner=build_pruner(PrunerName.MEDIAN, trials=trials, max_epochs=max_epochs)
    )


def _complete(study: optuna.Study, curve: list[float]) -> None:
    trial = study.ask()
    for epoch, value in enumerate(curve, start=1):
        trial.report(value, epoch)
    study.tell(trial, curve[-1])


def test_a_bad_trial_is_not_pruned_before_the_startup_trials_complete() -> None:
    study = _study(trials=8, max_epochs=5)
    _complete(study, [0.9, 0.95, 0.97])
    bad = study.ask()
    bad.report(0.1, 2)
    assert not bad.should_prune()  # one completed trial; the pruner waits for two


def test_epoch_one_is_never_judged_but_epoch_two_is() -> None:
    study = _study(trials=8, max_epochs=5)
    _complete(study, [0.9, 0.95, 0.97])
    _complete(study, [0.8, 0.9, 0.95])
    bad = study.ask()
    bad.report(0.1, 1)
    assert not bad.should_prune()
    bad.report(0.1, 2)
    assert bad.should_prune()


def test_a_two_epoch_study_may_prune_after_its_first_epoch() -> None:
    study = _study(trials=8, max_epochs=2)
    _complete(study, [0.9, 0.95])
    _complete(study, [0.8, 0.9])
    bad = study.ask()
    bad.report(0.1, 1)
    assert bad.should_prune()
