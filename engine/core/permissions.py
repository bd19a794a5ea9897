"""Every permission check in one table, so a test can enumerate the role-by-action matrix.

Roles say what a user may do; an API token's scopes narrow that for requests made with the token
(`SCOPE_OF` maps each action to the one scope it needs). A scope never widens a role: an action is
allowed when one of the actor's roles grants it AND, for a token, the token carries its scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.errors import Forbidden

ROLES = ("admin", "designer", "approver", "auditor", "api", "external-worker")
WORKER = "external-worker"  # systems' tokens that only fetch and finish external tasks
SYSTEM_ROLES = frozenset({"api", WORKER})  # roles for systems: the demo accounts with only these are system accounts
EVERYONE = frozenset(ROLES) - {WORKER}  # what every person and the "api" role may do; workers may not


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user or an API token's user."""

    username: str
    user_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    token_id: int | None = None  # the API token the request authenticated with, if any
    scopes: frozenset[str] | None = None  # the token's scopes; None for a signed-in person (roles alone)

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
    "notification.settings_own": EVERYONE,  # email / Slack / Teams choices and the digest, of one's own
    "instance.watch": EVERYONE,  # follow a request one may see (engine/requester/watchers.py)
    "substitute.set_own": frozenset({"admin", "designer", "approver"}),
    "calendar.manage": frozenset({"admin"}),  # business calendars and holidays
    "connector.manage": frozenset({"admin"}),  # the HTTP connector's allow-list
    "channel.manage": frozenset({"admin"}),  # deciding from messages on or off (engine/admin/channels.py)
    # monitoring (PMO staff = designers, and admins; auditors read, never write) and the dashboard
    "instance.monitor": frozenset({"admin", "designer", "auditor"}),
    "instance.edit_variables": frozenset({"admin"}),
    "instance.migrate": frozenset({"admin"}),  # move to another version
    "retention.manage": frozenset({"admin"}),
    # external tasks (engine/integration/external_tasks.py): workers fetch, lock and finish them; operators list them
    "external_task.work": frozenset({"admin", WORKER}),
    "external_task.read": frozenset({"admin", "designer", "auditor", "api"}),
    # completing and claiming a task: candidates, assignees (row rules in engine/tasks); the scope's check point
    "task.complete": EVERYONE,
    # saved views of the list pages (engine/lists/saved_views.py): save one's own, share with one's groups;
    # sharing with everyone is for the people who set up others' work
    "view.save": EVERYONE,
    "view.share_all": frozenset({"admin", "designer"}),
    # SCIM provisioning (engine/scim): an identity provider creates, changes and deactivates users and groups
    "scim.provision": frozenset({"admin"}),
}

START_SCOPE = "instances:start"  # also "instances:start:<process key>": start that process only

# scope -> what it lets a token do (shown on the admin page and by `pmoflow tokens create --help`)
SCOPES: dict[str, str] = {
    "definitions:read": "list and read process definitions and decisions",
    "definitions:deploy": "deploy (and design, publish) process definitions",
    START_SCOPE: "start instances of any process (instances:start:<key> for one process)",
    "instances:read": "read the instances the token's user started or works on",
    "instances:read-all": "read every instance",
    "instances:cancel": "cancel instances",
    "tasks:read": "list and read tasks",
    "tasks:complete": "claim and complete tasks",
    "external-tasks": "fetch, lock and finish external tasks",
    "decisions:evaluate": "evaluate decisions",
    "messages": "send messages to instances",
    "signals": "broadcast signals",
    "audit:read": "search and verify the audit trail",
    "notifications": "read and change the token user's own notification settings (and daily digest)",
    "admin": "administration: users, webhooks, calendars, channels, retry and migrate instances, any task",
    "scim": "SCIM 2.0 provisioning of users and groups by an identity provider (/scim/v2), and nothing else",
}

# action -> the scope a token needs for it (every action has one; tests/engine/core checks it)
SCOPE_OF: dict[str, str] = {
    "definition.read": "definitions:read",
    "decision.read": "definitions:read",
    "definition.deploy": "definitions:deploy",
    "definition.design": "definitions:deploy",
    "definition.publish": "definitions:deploy",
    "instance.start": START_SCOPE,
    "instance.read_own": "instances:read",
    "instance.read_all": "instances:read-all",
    "instance.monitor": "instances:read-all",
    "instance.cancel_own": "instances:cancel",
    "instance.cancel_any": "instances:cancel",
    "task.read_own": "tasks:read",
    "task.read_all": "tasks:read",
    "notification.read": "tasks:read",
    "notification.settings_own": "notifications",
    "instance.watch": "instances:read",  # watching needs seeing (check_can_see)
    "view.save": "tasks:read",
    "view.share_all": "tasks:read",
    "task.complete": "tasks:complete",
    "task.delegate": "tasks:complete",
    "comment.add": "tasks:complete",
    "attachment.add": "tasks:complete",
    "substitute.set_own": "tasks:complete",
    "external_task.work": "external-tasks",
    "external_task.read": "external-tasks",
    "decision.evaluate": "decisions:evaluate",
    "message.send": "messages",
    "signal.send": "signals",
    "audit.read": "audit:read",
    "instance.retry": "admin",
    "instance.edit_variables": "admin",
    "instance.migrate": "admin",
    "task.complete_any": "admin",
    "user.manage": "admin",
    "webhook.manage": "admin",
    "calendar.manage": "admin",
    "connector.manage": "admin",
    "channel.manage": "admin",
    "retention.manage": "admin",
    "scim.provision": "scim",
}


def allowed(actor: Actor, action: str, process: str | None = None) -> bool:
    """True if one of the actor's roles grants `action` and, for a token, it has the scope; KeyError if unknown.

    `process` (for `instance.start`) is the process key: a token limited to named processes may
    start those only; without a key, only a token with the unlimited start scope passes.
    """
    return bool(PERMISSIONS[action] & actor.roles) and missing_scope(actor, action, process) is None


def missing_scope(actor: Actor, action: str, process: str | None = None) -> str | None:
    """The scope an actor's token lacks for `action` (on `process`), or None (a person, or the token has it)."""
    if actor.scopes is None:
        return None
    scope = SCOPE_OF[action]
    if scope in actor.scopes:
        return None
    if scope == START_SCOPE and process is not None:
        limited = f"{START_SCOPE}:{process}"
        return None if limited in actor.scopes else limited
    return scope


def require(actor: Actor, action: str, process: str | None = None) -> None:
    """Raise Forbidden unless the actor may perform `action`; its details name the permission and its roles,
    or the scope the actor's API token lacks."""
    if not PERMISSIONS[action] & actor.roles:
        raise Forbidden(
            f"{actor.username} may not {action.replace('.', ' ').replace('_', ' ')}",
            {"permission": action, "allowed_roles": sorted(PERMISSIONS[action])},
        )
    missing = missing_scope(actor, action, process)
    if missing is not None:
        either = f" (or {START_SCOPE!r})" if missing != SCOPE_OF[action] else ""
        raise Forbidden(
            f"this API token lacks the scope {missing!r}{either}",
            {"permission": action, "missing_scope": missing, "token_scopes": sorted(actor.scopes or ())},
        )


def scope_base(scope: str) -> str:
    """The scope without a process limit: `instances:start:intake` -> `instances:start`."""
    return START_SCOPE if scope.startswith(START_SCOPE + ":") else scope


def scopes_of_roles(roles: frozenset[str] | set[str]) -> frozenset[str]:
    """Every scope one of whose actions the roles grant: what a token of such a user may carry at most."""
    return frozenset(SCOPE_OF[action] for action, granted in PERMISSIONS.items() if granted & roles)


def scope_problems(scopes: list[str], roles: frozenset[str] | set[str]) -> list[str]:
    """What is wrong with a token's scopes for a user with `roles` (empty: fine): unknown, or beyond the roles."""
    possible, problems = scopes_of_roles(roles), []
    for scope in scopes:
        base = scope_base(scope)
        key = scope[len(START_SCOPE) + 1 :] if base != scope else None
        if base not in SCOPES or (key is not None and not (0 < len(key) <= 200 and key.strip() == key)):
            problems.append(f"unknown scope {scope!r}")
        elif base not in possible:
            problems.append(f"{scope!r} is more than the user's roles ({', '.join(sorted(roles)) or 'none'}) allow")
    return problems
