"""What a run hands the engine after a step: the open human tasks and the connector calls to make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OpenTask:
    id: str
    process: str
    element_id: str
    name: str
    lane: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class ConnectorCall:
    id: str
    element_id: str
    name: str
    config: dict[str, Any]
    data: dict[str, Any]
