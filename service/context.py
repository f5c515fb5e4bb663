"""What every action receives: the database, the settings and the actor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import NotAuthenticated

if TYPE_CHECKING:
    from .config import Settings
    from .db import Database


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    wards: frozenset[int] = frozenset()  # the wards whose patients the user may see

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> User:
        return cls(
            id=row["id"],
            username=row["username"],
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            is_active=row["is_active"],
            is_staff=row["is_staff"],
            is_superuser=row["is_superuser"],
            wards=frozenset(row.get("wards") or ()),
        )

    @property
    def sees_all(self) -> bool:
        """Staff and superusers see every ward."""
        return self.is_staff or self.is_superuser

    def sees(self, ward: int | None) -> bool:
        return self.sees_all or (ward is not None and ward in self.wards)

    def scope(self) -> list[int] | None:
        """The wards to filter by; None when the user sees every ward."""
        return None if self.sees_all else sorted(self.wards)


@dataclass(frozen=True, slots=True)
class Context:
    db: Database
    settings: Settings
    user: User | None
    session_id: int | None = None  # the auth session the request came with
    # Entity tags the client says it last saw (If-Match / "if_match"); a
    # write to an object whose tag is none of these is refused (412).
    if_match: tuple[str, ...] | None = None

    def require_user(self) -> User:
        """The authenticated user; every clinical action requires one."""
        if self.user is None:
            raise NotAuthenticated()
        return self.user
