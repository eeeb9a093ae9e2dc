"""The three kinds of handler failure, mapped once by every Bus to ack / requeue / dead-letter.

- ``TrialFailure``: the work itself failed (bad params, out of memory, NaN). The handler reports it
  as an event and the message is acked: retrying would fail the same way.
- ``RetryableError``: a passing problem (a connection dropped). The message is redelivered, a
  bounded number of times, then dead-lettered.
- ``FatalError``: the message can never be handled (malformed, unknown study). Dead-lettered at once.
- ``StaleEvent``: the event belongs to an attempt that is no longer current (its trainer went silent and
  the trial was failed or retried, or the trial ended already). Acked without effect, and counted
  (``hpo_stale_events_total``).

Any other exception counts as retryable.
"""

from __future__ import annotations


class HpoError(Exception):
    """Root of every error hpo raises on purpose."""


class UserInputError(HpoError):
    """A user's mistake, shown as one line without a traceback."""


class TrialFailure(HpoError):
    """A trial could not be trained; it is recorded as failed and the study goes on."""


class RetryableError(HpoError):
    """Try the same message again later."""


class FatalError(HpoError):
    """The message can never succeed; send it to the dead-letter queue."""


class StaleEvent(HpoError):
    """The event comes from a superseded attempt or a finished trial: ack it, count it, change nothing."""
