"""The one error the dataset loaders raise for missing, corrupt or malformed data."""

from __future__ import annotations

from services.runtime.errors import UserInputError


class DatasetError(UserInputError):
    """A dataset could not be loaded: one line saying what is missing or wrong, where, and what to do."""
