"""Every permission check in one table, so a test can enumerate the role-by-action matrix."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.errors import Forbidden

ROLES = ("admin", "designer", "approver", "auditor", "api", "external-worker")
WORKER = "external-worker"  # systems' tokens that only fetch and finish external tasks
EVERYONE = frozenset(ROLES) - {WORKER}  # what every person and the "api" role may do; workers may not


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user or an API token's user."""

    username: str
    user_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    token_id: int | None = None  # the API token the request authenticated with, if any

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


SYSTEM = Actor("system", roles=frozenset({"admin"}))

# action -> roles that may perform it (row-level rules are applied by the services on top)
PERMISSIONS: dict[str, frozenset[str]] = {
    "definition.read": EVERYONE,
    "definition.deploy": frozenset({"admin", "designer"}),
    "definition.design": frozenset({"admin", "designer"}),  # the designer: library, drafts, diff, export
    "definition.publish": frozenset({"admin", "designer"}),  # publish a draft as a new version
    "instance.start": frozenset({"admin", "designer", "approver", "api"}),
    "instance.read_all": frozenset({"admin", "auditor", "api", "designer"}),
    "instance.read_own": EVERYONE,
    "instance.cancel_any": frozenset({"admin", "api"}),
    "instance.cancel_own": frozenset({"admin", "designer", "approver", "api"}),
    "instance.retry": frozenset({"admin"}),
    "audit.read": frozenset({"admin", "auditor", "api"}),
    "task.read_all": frozenset({"admin", "auditor", "api"}),
    "task.read_own": EVERYONE,
    "task.complete_any": frozenset({"admin"}),
    "message.send": frozenset({"admin", "api"}),
    "signal.send": frozenset({"admin", "api"}),  # broadcast to every waiting instance
    "user.manage": frozenset({"admin"}),
    "webhook.manage": frozenset({"admin"}),
    "decision.read": EVERYONE,
    "decision.evaluate": frozenset({"admin", "designer", "api"}),  # read-only, but it is the service for systems
    # collaboration: who may act; the services add the row-level rules (see engine/tasks/collaboration.py)
    "task.delegate": frozenset({"admin", "designer", "approver"}),  # also: who may receive a task
    "comment.add": frozenset({"admin", "designer", "approver"}),
    "attachment.add": frozenset({"admin", "designer", "approver"}),
    "notification.read": EVERYONE,
    "notification.settings_own": EVERYONE,  # email / Slack / Teams choices of one's own
    "substitute.set_own": frozenset({"admin", "designer", "approver"}),
    "calendar.manage": frozenset({"admin"}),  # business calendars and holidays
    "connector.manage": frozenset({"admin"}),  # the HTTP connector's allow-list
    # monitoring (PMO staff = designers, and admins; auditors read, never write) and the dashboard
    "instance.monitor": frozenset({"admin", "designer", "auditor"}),
    "instance.edit_variables": frozenset({"admin"}),
    "instance.migrate": frozenset({"admin"}),  # move to another version
    "retention.manage": frozenset({"admin"}),
    # external tasks (engine/integration/external_tasks.py): workers fetch, lock and finish them; operators list them
    "external_task.work": frozenset({"admin", WORKER}),
    "external_task.read": frozenset({"admin", "designer", "auditor", "api"}),
}


def allowed(actor: Actor, action: str) -> bool:
    """True if one of the actor's roles grants `action`; raises KeyError for an unknown action."""
    return bool(PERMISSIONS[action] & actor.roles)


def require(actor: Actor, action: str) -> None:
    """Raise Forbidden unless the actor may perform `action`; its details name the permission and its roles."""
    if not allowed(actor, action):
        raise Forbidden(
            f"{actor.username} may not {action.replace('.', ' ').replace('_', ' ')}",
            {"permission": action, "allowed_roles": sorted(PERMISSIONS[action])},
        )
