"""Typed SQLAlchemy models on one Base. Integer keys stay internal; URLs use `uuid`.

One module per part of the schema (base, people, definitions, instances, integration). This
package imports them all, so the mapper registry is complete wherever a model is used, and
callers import models from here (`from engine.db.models import HumanTask`).
"""

from engine.db.models.base import Base, UTCDateTime, new_uuid
from engine.db.models.definitions import (
    BusinessCalendar,
    ConnectorHost,
    DecisionDefinition,
    Deployment,
    DeploymentFile,
    Draft,
    ProcessDefinition,
    RetentionPolicy,
    VersionedDefinition,
)
from engine.db.models.instances import (
    SEARCH_TEXT_LIMIT,
    Attachment,
    Comment,
    Event,
    HumanTask,
    IdempotencyKey,
    Notification,
    ProcessInstance,
    TaskGroup,
    TaskUser,
)
from engine.db.models.integration import (
    ExternalTask,
    Job,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    WorkerHeartbeat,
)
from engine.db.models.people import ApiToken, Group, GroupMember, NotificationSetting, Substitute, User

__all__ = [
    "ApiToken",
    "Attachment",
    "Base",
    "BusinessCalendar",
    "Comment",
    "ConnectorHost",
    "DecisionDefinition",
    "Deployment",
    "DeploymentFile",
    "Draft",
    "Event",
    "ExternalTask",
    "Group",
    "GroupMember",
    "HumanTask",
    "IdempotencyKey",
    "Job",
    "Notification",
    "NotificationSetting",
    "ProcessDefinition",
    "ProcessInstance",
    "RetentionPolicy",
    "SEARCH_TEXT_LIMIT",
    "Substitute",
    "TaskGroup",
    "TaskUser",
    "UTCDateTime",
    "User",
    "VersionedDefinition",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkerHeartbeat",
    "new_uuid",
]
