"""The trainer side of fencing and verdicts: a superseded attempt publishes no result, and a trial waits
at an epoch boundary for the pruner's verdict (bounded), so a pruned trial never trains past its epoch."""

from __future__ import annotations

import threading
import time

from contracts.enums import ControlAction
from services.trainer.control import ControlBoard


def test_superseded_outranks_prune_which_outranks_stop() -> None:
    board = ControlBoard()
    board.request("t", ControlAction.STOP, "user")
    board.request("t", ControlAction.PRUNE, "median")
    board.request("t", ControlAction.STOP, "user again")
    pending = board.pending("t")
    assert pending is not None and pending.action is ControlAction.PRUNE
    board.request("t", ControlAction.SUPERSEDED, "lease")
    pending = board.pending("t")
    assert pending is not None and pending.action is ControlAction.SUPERSEDED


def test_a_continue_verdict_is_a_judged_epoch_not_a_request() -> None:
    board = ControlBoard()
    board.request("t", ControlAction.CONTINUE, "", epoch=2)
    assert board.pending("t") is None and board.judged("t") == 2
    board.request("t", ControlAction.CONTINUE, "", epoch=1)
    assert board.judged("t") == 2, "a late verdict never goes back"


def test_waiting_for_a_verdict_returns_when_it_arrives_or_after_the_timeout() -> None:
    board = ControlBoard()
    threading.Timer(0.05, board.request, args=("t", ControlAction.CONTINUE, ""), kwargs={"epoch": 1}).start()
    started = time.perf_counter()
    assert board.wait_for_verdict("t", 1, timeout=5)
    assert time.perf_counter() - started < 1
    started = time.perf_counter()
    assert not board.wait_for_verdict("t", 2, timeout=0.2)
    assert 0.15 < time.perf_counter() - started < 1
    board.request("t", ControlAction.PRUNE, "median", epoch=2)
    assert board.wait_for_verdict("t", 3, timeout=5), "a prune ends the wait too"
