"""Who a request comes from: a role, and the name of its token (the owner of the jobs it starts)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    READ = "read"
    SUBMIT = "submit"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The caller of one request. ``name`` is the token's name (None: the admin token, or nobody)."""

    role: Role
    name: str | None = None
    max_trial_epochs: int | None = None
    max_running_studies: int | None = None

    @property
    def sees_every_job(self) -> bool:
        return self.role is not Role.SUBMIT

    @property
    def owner_filter(self) -> str | None:
        """The owner a job list is restricted to (None: every job)."""
        return None if self.sees_every_job else self.name

    def may_see(self, owner: str | None) -> bool:
        return self.sees_every_job or owner == self.name

    def may_change(self, owner: str | None) -> bool:
        return self.role is Role.ADMIN or (self.role is Role.SUBMIT and owner == self.name)


ANONYMOUS_READER = Principal(Role.READ)
OPEN_ADMIN = Principal(Role.ADMIN)
