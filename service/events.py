"""Change events: what a committed transaction tells every connected screen.

An event is written to the ``events`` table inside the transaction that made
the change (so its id orders it among all changes, see ``db.Tx.commit``), and
published to Redis only after that transaction has committed. The same bytes
serve the Redis message, the replay from the table and every WebSocket frame
(realtime/frames.py builds those).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from . import jsonutil
from .context import User

CREATE, UPDATE, DELETE, NOTIFICATION = "create", "update", "delete", "notification"
STATUS = {CREATE: 201, UPDATE: 200, DELETE: 204, NOTIFICATION: 201}

# Internal events are committed and ordered like every other, but never sent
# to a client: each process's hub acts on them (closes or re-authorises
# sockets) before it writes any later event. Their streams start with "_".
AUTH = "_auth"
SESSIONS_ENDED = "sessions_ended"  # data: {"user": id, "sessions": [session ids]}
USER_CHANGED = "user_changed"  # data: the user's new flags (and wards)
PRIOR_PATIENT = "_prior_patient"  # in a moved report's data only; never sent


@dataclass(slots=True)
class Event:
    stream: str
    action: str
    pk: int
    data: bytes  # the object as JSON, with "pk" beside "id"
    id: int = 0
    # Who may see it: the ward of the patient it concerns (None: staff only),
    # and for a patient moved to another ward, the ward it left.
    ward: int | None = None
    prior_ward: int | None = None

    @classmethod
    def of(cls, stream: str, action: str, obj: dict[str, Any], ward: int | None, pk_key: str = "id") -> Event:
        pk = obj[pk_key]
        return cls(stream, action, pk, jsonutil.dumps({**obj, "pk": pk}), ward=ward)

    @classmethod
    def deleted(cls, stream: str, pk: int, ward: int | None, **extra: Any) -> Event:
        """A delete carries only the key (``pk`` and ``id``) and ``extra``."""
        return cls(stream, DELETE, pk, jsonutil.dumps({"pk": pk, "id": pk, **extra}), ward=ward)

    @classmethod
    def moved(
        cls, stream: str, action: str, obj: dict[str, Any], ward: int, prior_patient: int, prior_ward: int
    ) -> Event:
        """A change that moved an object (a report) to a patient of another
        ward: the data carries the patient it left under ``PRIOR_PATIENT``,
        which seen_by turns into the delete that ward's screens get (and
        leaves out of what every other screen gets)."""
        data = jsonutil.dumps({**obj, "pk": obj["id"], PRIOR_PATIENT: prior_patient})
        return cls(stream, action, obj["id"], data, ward=ward, prior_ward=prior_ward)

    @classmethod
    def sessions_ended(cls, user_id: int, session_ids: list[int]) -> Event:
        return cls(AUTH, SESSIONS_ENDED, user_id, jsonutil.dumps({"user": user_id, "sessions": session_ids}))

    @classmethod
    def user_changed(cls, user: dict[str, Any]) -> Event:
        return cls(AUTH, USER_CHANGED, user["id"], jsonutil.dumps(user))

    @property
    def internal(self) -> bool:
        return self.stream.startswith("_")

    def to_message(self) -> bytes:
        """The Redis message: only the id. Redis is a doorbell, the events
        table the mailbox: a receiving hub reads what the id points to from
        the table, so a forged or foreign message can show nothing."""
        return str(self.id).encode()


def hint_of(message: Any) -> int | None:
    """The event id a Redis message rings for, or None if it is not one."""
    if isinstance(message, str):
        message = message.encode()
    if not isinstance(message, bytes) or not 0 < len(message) <= 19 or not message.isdigit():
        return None
    return int(message)


def seen_by(event: Event, user: User) -> Event | None:
    """The event as this user may see it: itself; for a patient (or report)
    moved from a ward the user cannot see into one they can, a create; moved
    out of their sight, a delete (only the key, and the patient of a
    report); nothing when it concerns no ward of theirs."""
    sees_now = user.sees(event.ward)
    if event.prior_ward is None:
        return event if sees_now else None
    data = orjson.loads(event.data)
    prior_patient = data.pop(PRIOR_PATIENT, None)
    clean = replace(event, data=jsonutil.dumps(data), prior_ward=None) if prior_patient is not None else event
    saw_before = user.sees(event.prior_ward)
    if user.sees_all or (sees_now and saw_before):
        return clean
    if sees_now:
        return replace(clean, action=CREATE)
    if saw_before:
        extra = {}
        if event.stream == "reports":  # the patient the report was under on that screen
            extra["patient"] = prior_patient if prior_patient is not None else data.get("patient")
        return replace(event, action=DELETE, data=jsonutil.dumps({"pk": event.pk, "id": event.pk, **extra}))
    return None
