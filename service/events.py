"""Change events: what a committed transaction tells every connected screen.

An event is written to the ``events`` table inside the transaction that made
the change (so its id orders it among all changes, see ``db.Tx.commit``), and
published to Redis only after that transaction has committed. The same bytes
serve the Redis message, the replay from the table and every WebSocket frame
(realtime/frames.py builds those).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from . import jsonutil

CREATE, UPDATE, DELETE, NOTIFICATION = "create", "update", "delete", "notification"
STATUS = {CREATE: 201, UPDATE: 200, DELETE: 204, NOTIFICATION: 201}


@dataclass(slots=True)
class Event:
    stream: str
    action: str
    pk: int
    data: bytes  # the object as JSON, with "pk" beside "id"
    id: int = 0

    @classmethod
    def of(cls, stream: str, action: str, obj: dict[str, Any], pk_key: str = "id") -> Event:
        pk = obj[pk_key]
        return cls(stream, action, pk, jsonutil.dumps({**obj, "pk": pk}))

    @classmethod
    def deleted(cls, stream: str, pk: int, **extra: Any) -> Event:
        """A delete carries only the key (``pk`` and ``id``) and ``extra``."""
        return cls(stream, DELETE, pk, jsonutil.dumps({"pk": pk, "id": pk, **extra}))

    def to_message(self) -> bytes:
        """The Redis message: a small JSON header line, then the data as stored."""
        header = orjson.dumps({"id": self.id, "stream": self.stream, "action": self.action, "pk": self.pk})
        return header + b"\n" + self.data

    @classmethod
    def from_message(cls, message: bytes) -> Event:
        header, _, data = message.partition(b"\n")
        head = orjson.loads(header)
        return cls(head["stream"], head["action"], int(head["pk"]), data, int(head["id"]))
