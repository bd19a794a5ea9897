"""The role-by-route matrix: every route, for every kind of caller, gives the expected status.

A route the app serves but this table does not name fails the test, so no route is added
without deciding who may use it.
"""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import select

from designer import drafts
from engine.admin import groups, users
from engine.admin import tokens as tokens_service
from engine.core.permissions import scope_base, scopes_of_roles
from engine.db.models import Group, User
from engine.events import stream as audit
from engine.integration import webhooks
from engine.lists import saved_views
from engine.notify import actions as decision_links
from engine.notify import bell as notifications
from engine.requester import attachments
from engine.scim.errors import CORE_USER, PATCH_OP
from engine.slack import accounts as slack_accounts
from tests.bpmn_samples import one_approval
from tests.factories import ADMIN, ALICE
from tests.slack_fake import SECRET, signed
from tests.webui.conftest import intake, sign_in
from webui.app import create_app

CALLERS = ("anonymous", "approver", "designer", "auditor", "admin", "token")
SESSION_USER = {"approver": "alice", "designer": "dana", "auditor": "audrey", "admin": "pmo"}

# (method, rule) -> expected status per caller, in CALLERS order.
PAGES = {
    ("GET", "/"): (200, 302, 302, 302, 302, 200),  # signed in: to the inbox
    ("GET", "/favicon.ico"): (200, 200, 200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200, 200, 200),
    ("GET", "/login"): (200, 302, 302, 302, 302, 200),
    ("POST", "/login"): (401, 401, 401, 401, 401, 401),  # empty credentials
    # single sign-on (not configured here; tests/webui/test_permission_matrix_sso.py has it on)
    ("GET", "/login/sso"): (404, 404, 404, 404, 404, 404),
    ("GET", "/login/sso/callback"): (404, 404, 404, 404, 404, 404),
    ("POST", "/logout/backchannel"): (400, 400, 400, 400, 400, 400),  # no logout token; the provider's call
    ("GET", "/account/password"): (302, 200, 200, 200, 200, 302),
    ("POST", "/account/password"): (302, 422, 422, 422, 422, 302),  # wrong current password
    ("GET", "/tasks"): (302, 200, 200, 200, 200, 302),
    ("GET", "/tasks/done"): (302, 200, 200, 200, 200, 302),
    ("POST", "/tasks/bulk"): (302, 422, 422, 403, 422, 302),  # no task selected; auditors work no tasks
    ("GET", "/tasks/<task_id>"): (302, 200, 403, 200, 200, 302),
    ("POST", "/tasks/<task_id>"): (302, 302, 403, 403, 302, 302),
    ("POST", "/tasks/<task_id>/claim"): (302, 302, 403, 403, 302, 302),
    ("POST", "/tasks/<task_id>/unclaim"): (302, 302, 403, 403, 302, 302),
    # saved views: everyone saves their own; <view_id> is alice's private view, "not found" to others
    ("GET", "/views"): (302, 200, 200, 200, 200, 302),
    ("POST", "/views"): (302, 302, 302, 302, 302, 302),
    ("POST", "/views/<view_id>/rename"): (302, 302, 404, 404, 404, 302),
    ("POST", "/views/<view_id>/delete"): (302, 302, 404, 404, 404, 302),
    ("GET", "/admin/users"): (302, 403, 403, 403, 200, 302),
    ("GET", "/admin/users/new"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/users/new"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/users/<username>"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/users/<username>"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/users/<username>/password"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/users/<username>/deactivate"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/users/<username>/reactivate"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/users/<username>/sessions"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/groups"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/groups"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/groups/<path:name>"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/groups/<path:name>/members"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/groups/<path:name>/members/remove"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/groups/<path:name>/manager"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/tokens"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/tokens"): (302, 403, 403, 403, 201, 302),  # the result page shows it once
    ("POST", "/admin/tokens/<token_id>/revoke"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/channels"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/channels"): (302, 403, 403, 403, 302, 302),  # deciding from messages on or off
    ("GET", "/admin/connectors"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/connectors"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/connectors/<host_id>/remove"): (302, 403, 403, 403, 404, 302),
    ("GET", "/admin/calendars"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/calendars"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/calendars/<name>"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/calendars/<name>"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/calendars/<name>/holidays"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/calendars/<name>/holidays/remove"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/calendars/<name>/import"): (302, 403, 403, 403, 422, 302),  # no file chosen
    ("POST", "/admin/calendars/<name>/delete"): (302, 403, 403, 403, 302, 302),
    # collaboration: designers see every instance (instance.read_all) but not other groups' tasks
    ("POST", "/tasks/<task_id>/delegate"): (302, 302, 403, 403, 302, 302),
    ("POST", "/tasks/<task_id>/reassign"): (302, 422, 403, 403, 422, 302),  # erin is no IT Manager: under the
    # separation of duties of project-intake admins too hand a task only to its candidates
    ("POST", "/tasks/<task_id>/comments"): (302, 302, 302, 403, 302, 302),
    ("POST", "/tasks/<task_id>/attachments"): (302, 302, 302, 403, 302, 302),
    ("GET", "/requests"): (302, 200, 200, 200, 200, 302),
    ("GET", "/requests/new"): (302, 200, 200, 403, 200, 302),
    ("GET", "/requests/new/<key>"): (302, 200, 200, 403, 200, 302),
    ("POST", "/requests/new/<key>"): (302, 422, 422, 403, 422, 302),  # required fields missing
    ("GET", "/requests/<instance_id>"): (302, 200, 200, 200, 200, 302),
    ("POST", "/requests/<instance_id>/comments"): (302, 302, 302, 403, 302, 302),
    ("POST", "/requests/<instance_id>/attachments"): (302, 302, 302, 403, 302, 302),
    # watching: anyone who may see the request (alice: its group's task; the others see every instance)
    ("POST", "/requests/<instance_id>/watch"): (302, 302, 302, 302, 302, 302),
    ("POST", "/requests/<instance_id>/unwatch"): (302, 302, 302, 302, 302, 302),
    ("GET", "/attachments/<attachment_id>"): (302, 200, 200, 200, 200, 302),
    ("GET", "/notifications"): (302, 200, 200, 200, 200, 302),
    ("POST", "/notifications/<notification_id>/read"): (302, 302, 404, 404, 404, 302),  # alice's
    ("POST", "/notifications/read-all"): (302, 302, 302, 302, 302, 302),
    ("GET", "/account/out-of-office"): (302, 200, 200, 403, 200, 302),
    ("POST", "/account/out-of-office"): (302, 422, 422, 403, 422, 302),  # no substitute given
    ("GET", "/account/notifications"): (302, 200, 200, 200, 200, 302),
    ("POST", "/account/notifications"): (302, 302, 302, 302, 302, 302),
    # designer panel: JSON only, so the matrix's form post is refused with 422 once allowed
    ("GET", "/designer/panel/options"): (302, 403, 200, 403, 200, 302),
    ("POST", "/designer/conditions/build"): (302, 403, 422, 403, 422, 302),
    ("POST", "/designer/conditions/parse"): (302, 403, 422, 403, 422, 302),
    ("POST", "/designer/dry-run"): (302, 403, 422, 403, 422, 302),
    # the designer (definition.design; publishing: definition.publish); JSON endpoints get the matrix's form post
    ("GET", "/designer"): (302, 403, 200, 403, 200, 302),
    ("POST", "/designer/new"): (302, 403, 302, 403, 302, 302),
    ("POST", "/designer/import"): (302, 403, 422, 403, 422, 302),  # no file uploaded
    ("POST", "/designer/processes/<key>/edit"): (302, 403, 302, 403, 302, 302),
    ("GET", "/designer/drafts/<key>"): (302, 403, 200, 403, 200, 302),
    ("GET", "/designer/drafts/<key>/content"): (302, 403, 200, 403, 200, 302),
    ("POST", "/designer/drafts/<key>/save"): (302, 403, 422, 403, 422, 302),  # no diagram sent
    ("POST", "/designer/drafts/<key>/validate"): (302, 403, 200, 403, 200, 302),
    ("POST", "/designer/drafts/<key>/publish"): (302, 403, 422, 403, 422, 302),  # the draft is unchanged
    ("POST", "/designer/drafts/<key>/discard"): (302, 403, 302, 403, 302, 302),
    ("GET", "/designer/drafts/<key>/export"): (302, 403, 200, 403, 200, 302),
    ("GET", "/designer/drafts/<key>/dmn/<filename>"): (302, 403, 200, 403, 200, 302),
    ("GET", "/designer/processes/<key>/versions/<int:version>"): (302, 403, 200, 403, 200, 302),
    ("GET", "/designer/processes/<key>/versions/<int:version>/export"): (302, 403, 200, 403, 200, 302),
    ("GET", "/designer/processes/<key>/diff"): (302, 403, 200, 403, 200, 302),
    # the auditor's pages: read-only, audit.read (admin, auditor)
    ("GET", "/audit"): (302, 403, 403, 200, 200, 302),
    ("GET", "/audit/verify"): (302, 403, 403, 200, 200, 302),
    ("GET", "/audit/export.<fmt>"): (302, 403, 403, 200, 200, 302),
    ("GET", "/audit/instances/<instance_id>"): (302, 403, 403, 200, 200, 302),
    ("GET", "/audit/instances/<instance_id>/report"): (302, 403, 403, 200, 200, 302),
    ("GET", "/audit/instances/<instance_id>/export.<fmt>"): (302, 403, 403, 200, 200, 302),
    # monitoring and the dashboard: PMO staff (designers) and admins; auditors read; only admins write
    ("GET", "/monitor"): (302, 403, 200, 200, 200, 302),
    ("GET", "/monitor/instances/<instance_id>"): (302, 403, 200, 200, 200, 302),
    ("POST", "/monitor/instances/<instance_id>/variables"): (302, 403, 403, 403, 302, 302),
    ("POST", "/monitor/instances/<instance_id>/cancel"): (302, 403, 403, 403, 302, 302),
    ("POST", "/monitor/instances/<instance_id>/retry"): (302, 403, 403, 403, 302, 302),  # not in error: flashed
    ("POST", "/monitor/bulk"): (302, 403, 403, 403, 200, 302),  # 200: the confirmation page
    ("GET", "/monitor/instances/<instance_id>/migrate"): (302, 403, 403, 403, 200, 302),
    ("POST", "/monitor/instances/<instance_id>/migrate"): (302, 403, 403, 403, 302, 302),  # same version: flashed
    ("GET", "/dashboard"): (302, 403, 200, 200, 200, 302),
    ("GET", "/monitor/retention"): (302, 403, 403, 403, 200, 302),
    ("POST", "/monitor/retention"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/webhooks"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/webhooks"): (302, 403, 403, 403, 201, 302),  # the result page shows the secret once
    ("GET", "/admin/webhooks/<webhook_id>"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/webhooks/<webhook_id>"): (302, 403, 403, 403, 302, 302),
    ("POST", "/admin/webhooks/<webhook_id>/rotate"): (302, 403, 403, 403, 200, 302),  # shows the new secret once
    ("POST", "/admin/webhooks/<webhook_id>/delete"): (302, 403, 403, 403, 302, 302),
    ("GET", "/admin/webhooks/<webhook_id>/deliveries/<delivery_id>"): (302, 403, 403, 403, 200, 302),
    ("POST", "/admin/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver"): (302, 403, 403, 403, 302, 302),
    # connecting a Slack account: a one-time link (fresh per request) confirmed by whoever is signed in
    ("GET", "/slack/link/<token>"): (302, 200, 200, 200, 200, 302),
    ("POST", "/slack/link/<token>"): (302, 302, 302, 302, 302, 302),
    # decision links (engine/notify/actions.py): <token> is alice's Approve link; the link is the credential, so no
    # sign-in is needed, and anyone else signed in in the browser is refused
    ("GET", "/decide/<token>"): (200, 200, 403, 403, 403, 200),
    ("POST", "/decide/<token>"): (200, 200, 403, 403, 403, 200),
    ("GET", "/account/sessions"): (302, 200, 200, 200, 200, 302),
    ("POST", "/account/sessions"): (302, 302, 302, 302, 302, 302),  # near the end: signs the caller out everywhere
    ("POST", "/logout"): (302, 302, 302, 302, 302, 302),  # last: it signs the caller out
}
API = {
    ("GET", "/api/v1/openapi.json"): (200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/process-definitions"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/process-definitions"): (401, 403, 201, 403, 201, 403),
    ("GET", "/api/v1/process-definitions/<key>"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/process-instances"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/process-instances"): (401, 201, 201, 403, 201, 201),
    ("GET", "/api/v1/process-instances/<instance_id>"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/process-instances/<instance_id>/cancel"): (401, 403, 403, 403, 200, 200),
    ("POST", "/api/v1/process-instances/<instance_id>/retry"): (401, 403, 403, 403, 409, 403),
    ("GET", "/api/v1/process-instances/<instance_id>/audit"): (401, 403, 403, 200, 200, 200),
    ("PUT", "/api/v1/process-instances/<instance_id>/watch"): (401, 200, 200, 200, 200, 200),
    ("DELETE", "/api/v1/process-instances/<instance_id>/watch"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/me/notification-settings"): (401, 200, 200, 200, 200, 200),
    ("PUT", "/api/v1/me/notification-settings"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/process-instances/<instance_id>/migration-plan"): (401, 403, 403, 403, 200, 403),
    ("POST", "/api/v1/process-instances/<instance_id>/migrate"): (401, 403, 403, 403, 409, 403),  # same version
    ("POST", "/api/v1/messages"): (401, 403, 403, 403, 404, 404),
    ("POST", "/api/v1/signals"): (401, 403, 403, 403, 200, 200),  # reaches no instance: 0
    ("GET", "/api/v1/tasks"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/tasks/<task_id>"): (401, 200, 403, 200, 200, 200),
    ("POST", "/api/v1/tasks/<task_id>/complete"): (401, 200, 403, 403, 200, 403),
    ("POST", "/api/v1/tasks/<task_id>/claim"): (401, 200, 403, 403, 200, 403),  # candidates (and admins)
    ("POST", "/api/v1/tasks/<task_id>/unclaim"): (401, 409, 403, 403, 409, 403),  # not claimed: 409
    ("GET", "/api/v1/decisions"): (401, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/decisions/<key>"): (401, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/decisions/<key>/evaluate"): (401, 403, 200, 403, 200, 200),  # read-only, for systems
    ("GET", "/api/v1/audit/events"): (401, 403, 403, 200, 200, 200),
    ("GET", "/api/v1/audit/verify"): (401, 403, 403, 200, 200, 200),
    ("GET", "/api/v1/webhooks"): (401, 403, 403, 403, 200, 403),
    ("POST", "/api/v1/webhooks"): (401, 403, 403, 403, 201, 403),
    ("GET", "/api/v1/webhooks/<webhook_id>"): (401, 403, 403, 403, 200, 403),
    ("PATCH", "/api/v1/webhooks/<webhook_id>"): (401, 403, 403, 403, 200, 403),
    ("DELETE", "/api/v1/webhooks/<webhook_id>"): (401, 403, 403, 403, 204, 403),
    ("POST", "/api/v1/webhooks/<webhook_id>/rotate-secret"): (401, 403, 403, 403, 200, 403),
    ("GET", "/api/v1/webhooks/<webhook_id>/deliveries"): (401, 403, 403, 403, 200, 403),
    ("GET", "/api/v1/webhooks/<webhook_id>/deliveries/<delivery_id>"): (401, 403, 403, 403, 200, 403),
    ("POST", "/api/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver"): (401, 403, 403, 403, 200, 403),
    # external tasks: workers (role external-worker, see WORKER_API) and admins work them; operators list them
    ("GET", "/api/v1/external-tasks"): (401, 403, 200, 200, 200, 200),
    ("POST", "/api/v1/external-tasks/fetch-and-lock"): (401, 403, 403, 403, 200, 403),
    ("POST", "/api/v1/external-tasks/<task_id>/complete"): (401, 403, 403, 403, 404, 403),  # a human task's id
    ("POST", "/api/v1/external-tasks/<task_id>/failure"): (401, 403, 403, 403, 404, 403),
    ("POST", "/api/v1/external-tasks/<task_id>/bpmn-error"): (401, 403, 403, 403, 404, 403),
    ("POST", "/api/v1/external-tasks/<task_id>/extend-lock"): (401, 403, 403, 403, 404, 403),
    # SCIM provisioning (scim.provision: admin; a token needs the scope `scim`); <user_id>, <group_id> are fresh.
    # The matrix's body is a PatchOp: PATCH changes the displayName, PUT (a resource, not a PatchOp) is a 400.
    ("GET", "/scim/v2/Users"): (401, 403, 403, 403, 200, 403),
    ("POST", "/scim/v2/Users"): (401, 403, 403, 403, 201, 403),
    ("GET", "/scim/v2/Users/<user_id>"): (401, 403, 403, 403, 200, 403),
    ("PUT", "/scim/v2/Users/<user_id>"): (401, 403, 403, 403, 400, 403),
    ("PATCH", "/scim/v2/Users/<user_id>"): (401, 403, 403, 403, 200, 403),
    ("DELETE", "/scim/v2/Users/<user_id>"): (401, 403, 403, 403, 204, 403),
    ("GET", "/scim/v2/Groups"): (401, 403, 403, 403, 200, 403),
    ("POST", "/scim/v2/Groups"): (401, 403, 403, 403, 201, 403),
    ("GET", "/scim/v2/Groups/<group_id>"): (401, 403, 403, 403, 200, 403),
    ("PUT", "/scim/v2/Groups/<group_id>"): (401, 403, 403, 403, 400, 403),
    ("PATCH", "/scim/v2/Groups/<group_id>"): (401, 403, 403, 403, 200, 403),
    ("DELETE", "/scim/v2/Groups/<group_id>"): (401, 403, 403, 403, 204, 403),
    ("GET", "/scim/v2/ServiceProviderConfig"): (401, 403, 403, 403, 200, 403),
    ("GET", "/scim/v2/ResourceTypes"): (401, 403, 403, 403, 200, 403),
    ("GET", "/scim/v2/ResourceTypes/<name>"): (401, 403, 403, 403, 200, 403),
    ("GET", "/scim/v2/Schemas"): (401, 403, 403, 403, 200, 403),
    ("GET", "/scim/v2/Schemas/<urn>"): (401, 403, 403, 403, 200, 403),
}
# Slack's request URLs: authenticated by Slack's signature (engine/integration/slack/verification.py), never
# by a session or a token. Every caller's unsigned request is 401; a signed one is taken whoever else calls
# (test_slack_routes_take_slacks_signature_not_a_session). Without a Slack app configured they are 404.
SIGNED = {
    ("POST", "/slack/interactions"): 401,
    ("POST", "/slack/commands"): 401,
}
# A token of a user whose only role is external-worker: external tasks, and nothing else.
WORKER_API = {route: 403 for route in API} | {
    ("GET", "/api/v1/openapi.json"): 200,
    ("POST", "/api/v1/external-tasks/fetch-and-lock"): 200,
    ("POST", "/api/v1/external-tasks/<task_id>/complete"): 404,
    ("POST", "/api/v1/external-tasks/<task_id>/failure"): 404,
    ("POST", "/api/v1/external-tasks/<task_id>/bpmn-error"): 404,
    ("POST", "/api/v1/external-tasks/<task_id>/extend-lock"): 404,
}
SCIM_PATCH = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Matrix"}]}
BODIES = {
    "/scim/v2/Users": {"userName": "matrix-scim-new"},
    "/scim/v2/Users/<user_id>": SCIM_PATCH,
    "/scim/v2/Groups": {"displayName": "Matrix SCIM group"},
    "/scim/v2/Groups/<group_id>": SCIM_PATCH,
    "/monitor/instances/<instance_id>/variables": {"variables": '{"title": "Matrix", "budget": 1}', "reason": "m"},
    "/monitor/instances/<instance_id>/cancel": {"reason": "matrix"},
    "/monitor/instances/<instance_id>/migrate": {"version": "1", "reason": "matrix"},
    "/monitor/bulk": {"action": "cancel", "business_key": "MATRIX", "reason": "matrix"},
    "/monitor/retention": {"process": "project-intake", "days": "30"},
    "/api/v1/process-instances": {
        "process": "project-intake",
        "variables": {"title": "t", "budget": 1, "department": "d"},
    },
    "/api/v1/process-instances/<instance_id>/cancel": {"reason": "matrix"},
    "/api/v1/me/notification-settings": {"digest": {"enabled": True, "time": "07:00", "channels": ["email"]}},
    "/api/v1/process-instances/<instance_id>/retry": {"variables": {}},
    "/api/v1/process-instances/<instance_id>/migrate": {"version": 1, "reason": "matrix"},
    "/api/v1/messages": {"message": "nothing", "business_key": "none"},
    "/api/v1/signals": {"signal": "matrix"},
    "/api/v1/tasks/<task_id>/complete": {"data": {"decision": "approve"}},
    "/api/v1/decisions/<key>/evaluate": {"inputs": {"budget": 120000}},
    "/api/v1/external-tasks/fetch-and-lock": {
        "worker_id": "matrix",
        "max_tasks": 1,
        "topics": [{"name": "matrix", "lock_duration_ms": 1000}],
    },
    "/api/v1/external-tasks/<task_id>/complete": {"worker_id": "matrix"},
    "/api/v1/external-tasks/<task_id>/failure": {"worker_id": "matrix", "message": "m", "retries": 1},
    "/api/v1/external-tasks/<task_id>/bpmn-error": {"worker_id": "matrix", "error_code": "E"},
    "/api/v1/external-tasks/<task_id>/extend-lock": {"worker_id": "matrix", "new_duration_ms": 1000},
    "/tasks/<task_id>": {"decision": "approve"},
    "/decide/<token>": {"comment": "matrix"},
    "/tasks/bulk": {"action": "claim"},
    "/views": {"page": "inbox", "name": "Matrix", "query": "due=overdue", "audience": "private"},
    "/views/<view_id>/rename": {"name": "Matrix renamed", "audience": "private"},
    "/tasks/<task_id>/delegate": {"to": "frank", "reason": "matrix"},  # a fellow IT Manager (separation of duties)
    "/tasks/<task_id>/reassign": {"to": "erin", "reason": "matrix"},
    "/tasks/<task_id>/comments": {"body": "matrix"},
    "/tasks/<task_id>/attachments": {"kind": "link", "url": "https://contoso.sharepoint.com/matrix"},
    "/requests/<instance_id>/comments": {"body": "matrix"},
    "/requests/<instance_id>/attachments": {"kind": "link", "url": "https://contoso.sharepoint.com/matrix"},
    "/admin/users/new": {
        "username": "matrix-new",
        "password": "matrix-secret",
        "confirm": "matrix-secret",
        "roles": "approver",
    },
    "/admin/users/<username>": {"display_name": "Matrix", "roles": "approver"},
    "/admin/users/<username>/password": {"password": "matrix-secret", "confirm": "matrix-secret"},
    "/admin/groups": {"name": "Matrix group"},
    "/admin/groups/<path:name>/members": {"username": "matrix-target"},
    "/admin/groups/<path:name>/members/remove": {"username": "matrix-target"},
    "/admin/groups/<path:name>/manager": {"manager": "matrix-target"},
    "/admin/tokens": {"username": "intake-bot", "label": "matrix"},
    "/designer/new": {"key": "matrix-new", "name": "Matrix", "template": "project-intake"},
    "/designer/drafts/<key>/save": {"revision": "1"},
    "/designer/drafts/<key>/publish": {"revision": "1", "note": "matrix"},
    "/account/notifications": {"task_assigned": "email"},
    "/admin/channels": {"setting": "slack_actions", "value": "off"},
    "/admin/connectors": {"pattern": "erp.example.com", "note": "matrix"},
    "/admin/webhooks": {"url": "https://93.184.215.14/matrix", "event_types": "*", "active": "1"},
    "/admin/webhooks/<webhook_id>": {"url": "https://93.184.215.14/matrix", "event_types": "task_created"},
    "/api/v1/webhooks": {"url": "https://93.184.215.14/matrix", "event_types": ["*"]},
    "/api/v1/webhooks/<webhook_id>": {"description": "matrix"},
    "/admin/calendars": {"name": "Matrix calendar", "time_zone": "Europe/Berlin"},
    "/admin/calendars/<name>": {"time_zone": "UTC", "hours_mon": "09:00-17:00", "hours_tue": "09:00-17:00"},
    "/admin/calendars/<name>/holidays": {"day": "2026-12-24", "label": "Christmas Eve"},
    "/admin/calendars/<name>/holidays/remove": {"day": "2026-12-24"},
}

QUERIES = {"/api/v1/process-instances/<instance_id>/migration-plan": {"version": "1"}}


def test_every_route_is_in_the_matrix(app):
    served = {
        (m, r.rule)
        for r in app.url_map.iter_rules()  # static files (the app's, a blueprint's) are public
        if r.endpoint != "static" and not r.endpoint.endswith(".static")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert served == set(PAGES) | set(API) | set(SIGNED)


@pytest.fixture
def setup(app):
    ctx = app.extensions["pmoflow"]
    users.create_user(ctx, "dana", "demo", [], ["designer"])
    users.create_user(ctx, "matrix-target", "demo", [], ["approver"])
    tokens = {
        caller: tokens_service.create_token(ctx, SESSION_USER.get(caller, "intake-bot"), "matrix")
        for caller in CALLERS
        if caller != "anonymous"
    }
    return ctx, tokens


def fill(rule: str, app) -> str:
    """A fresh instance and task per request, so one caller's action does not change another's."""
    view = intake(app, key="MATRIX")
    if "<token_id>" in rule:
        issued = tokens_service.issue_token(app.extensions["pmoflow"], "intake-bot", "m", "pmo")
        rule = rule.replace("<token_id>", issued.row.id)
    if "<attachment_id>" in rule:
        doc = attachments.add_document(app.extensions["pmoflow"], ADMIN, "m.pdf", b"%PDF", instance_id=view.id)
        rule = rule.replace("<attachment_id>", doc.id)
    if "<webhook_id>" in rule:
        rule = _webhook(rule, app)
    if rule.startswith(("/designer/drafts/", "/designer/processes/")):
        drafts.edit_version(app.extensions["pmoflow"], ADMIN, "project-intake")  # a draft to work on
        rule = rule.replace("<filename>", "approval-tier.dmn").replace("<int:version>", "1")
    if "<view_id>" in rule:
        saved = saved_views.save_view(app.extensions["pmoflow"], ALICE, "inbox", f"Matrix {uuid.uuid4()}", "scope=mine")
        rule = rule.replace("<view_id>", saved.id)
    if rule.startswith("/slack/link/"):
        link = slack_accounts.link_url(app.extensions["pmoflow"], "T0MATRIX", f"U{uuid.uuid4().hex[:8].upper()}")
        rule = rule.replace("<token>", link.rsplit("/", 1)[1])
    if "<user_id>" in rule or "<group_id>" in rule:
        rule = _scim_ids(rule, app)
    if "<notification_id>" in rule:
        ctx = app.extensions["pmoflow"]
        with ctx.uow() as uow:
            note = notifications.notify(uow.session, "alice", "mention", "matrix", at=ctx.clock.now())
            uow.commit()
        rule = rule.replace("<notification_id>", note.uuid)
    if rule.startswith("/decide/"):
        link = decision_links.issue_link(app.extensions["pmoflow"], view.open_tasks[0].id, "alice", "approve")
        rule = rule.replace("<token>", link.rsplit("/", 1)[1])
    return (
        rule.replace("<task_id>", view.open_tasks[0].id)
        .replace("<instance_id>", view.id)
        .replace("<key>", "approval_tier" if "/decisions/" in rule else "project-intake")
        .replace("<username>", "matrix-target")
        .replace("/calendars/<name>", "/calendars/default")
        .replace("/ResourceTypes/<name>", "/ResourceTypes/User")
        .replace("<urn>", CORE_USER)
        .replace("<path:name>", "IT%20Manager")
        .replace("<fmt>", "csv")
    )


def _scim_ids(rule: str, app) -> str:
    """A fresh user and group each time (DELETE takes them out of SCIM), by their SCIM ids."""
    ctx = app.extensions["pmoflow"]
    name = f"matrix-scim-{uuid.uuid4().hex[:8]}"
    users.create_user(ctx, name, None, [], ["approver"])
    groups.add_group(ctx, name, "pmo")
    with ctx.uow(write=False) as uow:
        user_id = uow.session.scalar(select(User.scim_id).where(User.username == name))
        group_id = uow.session.scalar(select(Group.scim_id).where(Group.name == name))
    return rule.replace("<user_id>", str(user_id)).replace("<group_id>", str(group_id))


def _webhook(rule: str, app) -> str:
    """A fresh webhook with one delivery (not yet sent) of a fresh event."""
    ctx = app.extensions["pmoflow"]
    issued = webhooks.create_subscription(ctx, ADMIN, "https://93.184.215.14/matrix", ["*"])
    with ctx.uow() as uow:
        audit.record(uow.session, "matrix_checked", ctx.clock.now(), actor="pmo")
        uow.commit()
    [delivery] = webhooks.list_deliveries(ctx, ADMIN, issued.subscription.id)
    return rule.replace("<webhook_id>", issued.subscription.id).replace("<delivery_id>", delivery.id)


@pytest.mark.parametrize("caller", CALLERS)
def test_pages(app, setup, caller):
    client = app.test_client()
    if caller in SESSION_USER:
        assert sign_in(client, SESSION_USER[caller]).status_code == 302
    for (method, rule), expected in PAGES.items():
        url = fill(rule, app)
        if method == "GET":
            response = client.get(url)
        else:
            token = _token(client, app)
            response = client.post(url, data={**BODIES.get(rule, {}), "csrf_token": token})
        assert response.status_code == expected[CALLERS.index(caller)], (caller, method, rule)


@pytest.fixture
def slack_app(database_url, clock):
    """The app with a Slack signing secret, so its request URLs answer (else 404)."""
    application = create_app(
        {"database_url": database_url, "secret_key": "web-test", "TESTING": True, "slack_signing_secret": SECRET},
        clock=clock,
    )
    ctx = application.extensions["pmoflow"]
    users.ensure_demo_users(ctx)
    users.create_user(ctx, "dana", "demo", [], ["designer"])
    yield application
    ctx.db.dispose()


@pytest.mark.parametrize("caller", CALLERS)
def test_slack_routes_take_slacks_signature_not_a_session(slack_app, clock, caller):
    """A session, a CSRF token or an API token neither opens nor closes them: only the signature counts."""
    client = slack_app.test_client()
    headers = {}
    if caller in SESSION_USER:
        assert sign_in(client, SESSION_USER[caller]).status_code == 302
    if caller == "token":
        headers["Authorization"] = "Bearer " + tokens_service.create_token(
            slack_app.extensions["pmoflow"], "intake-bot", "matrix"
        )
    body = "team_id=T0MATRIX&user_id=U0MATRIX&text=help"
    for (method, rule), expected in SIGNED.items():
        unsigned = client.open(rule, method=method, data=body, headers=headers)
        assert unsigned.status_code == expected, (caller, rule)
    stamp = int(clock.now().timestamp())
    answer = client.post("/slack/commands", data=body, headers={**headers, **signed(body, stamp)})
    assert answer.status_code == 200 and "/pmoflow" in answer.json["text"], caller


def _token(client, app) -> str:
    """A CSRF token for this client's session (the sign-in page carries one for anyone)."""
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("caller", [*CALLERS, "worker"])
def test_api(app, setup, caller):
    ctx, tokens = setup
    if caller == "worker":
        users.create_user(ctx, "matrix-worker", None, [], ["external-worker"])
        tokens["worker"] = tokens_service.create_token(ctx, "matrix-worker", "matrix")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}
    for (method, rule), statuses in API.items():
        expected = {**dict(zip(CALLERS, statuses)), "worker": WORKER_API[(method, rule)]}
        url = fill(rule, app)
        if method == "GET":
            response = client.get(url, headers=headers, query_string=QUERIES.get(rule))
        elif rule == "/api/v1/process-definitions":
            response = client.post(
                url,
                headers=headers,
                content_type="multipart/form-data",
                data={"files": [(io.BytesIO(one_approval(pid=f"m_{caller}").encode()), "m.bpmn")]},
            )
        else:
            response = client.open(url, method=method, headers=headers, json=BODIES.get(rule, {}))
        assert response.status_code == expected[caller], (caller, method, rule, response.json)


def test_an_external_worker_signed_in_sees_no_work_pages(app, setup):
    """The external-worker role is for systems' tokens; signed in, it gets its password page and no work."""
    ctx, _ = setup
    users.create_user(ctx, "matrix-worker", "demo", [], ["external-worker"])
    client = app.test_client()
    assert sign_in(client, "matrix-worker").status_code == 302
    for method, rule in PAGES:
        if method == "GET":
            assert client.get(fill(rule, app)).status_code < 500, rule
    for page in ("/tasks", "/requests", "/requests/new", "/notifications", "/monitor", "/designer", "/audit"):
        assert client.get(page).status_code == 403, page


# The scope dimension: (method, rule) -> (caller whose column applies, the one scope the route needs).
# A token of that caller's user with exactly that scope gets the caller's status above; a token with
# every other scope its user's roles allow gets 403 naming the missing scope.
SCOPE_CALLERS = {"token": "intake-bot", "admin": "pmo", "approver": "alice"}
ROUTE_SCOPES = {
    ("GET", "/api/v1/process-definitions"): ("token", "definitions:read"),
    ("POST", "/api/v1/process-definitions"): ("admin", "definitions:deploy"),
    ("GET", "/api/v1/process-definitions/<key>"): ("token", "definitions:read"),
    ("GET", "/api/v1/process-instances"): ("token", "instances:read"),
    ("POST", "/api/v1/process-instances"): ("token", "instances:start"),
    ("GET", "/api/v1/process-instances/<instance_id>"): ("token", "instances:read"),  # the bot started it
    ("POST", "/api/v1/process-instances/<instance_id>/cancel"): ("token", "instances:cancel"),
    ("POST", "/api/v1/process-instances/<instance_id>/retry"): ("admin", "admin"),
    ("GET", "/api/v1/process-instances/<instance_id>/audit"): ("token", "audit:read"),
    ("PUT", "/api/v1/process-instances/<instance_id>/watch"): ("token", "instances:read"),
    ("DELETE", "/api/v1/process-instances/<instance_id>/watch"): ("token", "instances:read"),
    ("GET", "/api/v1/me/notification-settings"): ("token", "notifications"),
    ("PUT", "/api/v1/me/notification-settings"): ("token", "notifications"),
    ("GET", "/api/v1/process-instances/<instance_id>/migration-plan"): ("admin", "admin"),
    ("POST", "/api/v1/process-instances/<instance_id>/migrate"): ("admin", "admin"),
    ("POST", "/api/v1/messages"): ("token", "messages"),
    ("POST", "/api/v1/signals"): ("token", "signals"),
    ("GET", "/api/v1/tasks"): ("token", "tasks:read"),
    ("GET", "/api/v1/tasks/<task_id>"): ("approver", "tasks:read"),
    ("POST", "/api/v1/tasks/<task_id>/complete"): ("approver", "tasks:complete"),
    ("POST", "/api/v1/tasks/<task_id>/claim"): ("approver", "tasks:complete"),
    ("POST", "/api/v1/tasks/<task_id>/unclaim"): ("approver", "tasks:complete"),
    ("GET", "/api/v1/decisions"): ("token", "definitions:read"),
    ("GET", "/api/v1/decisions/<key>"): ("token", "definitions:read"),
    ("POST", "/api/v1/decisions/<key>/evaluate"): ("token", "decisions:evaluate"),
    ("GET", "/api/v1/audit/events"): ("token", "audit:read"),
    ("GET", "/api/v1/audit/verify"): ("token", "audit:read"),
    ("GET", "/api/v1/external-tasks"): ("token", "external-tasks"),
    ("POST", "/api/v1/external-tasks/fetch-and-lock"): ("admin", "external-tasks"),
    ("POST", "/api/v1/external-tasks/<task_id>/complete"): ("admin", "external-tasks"),
    ("POST", "/api/v1/external-tasks/<task_id>/failure"): ("admin", "external-tasks"),
    ("POST", "/api/v1/external-tasks/<task_id>/bpmn-error"): ("admin", "external-tasks"),
    ("POST", "/api/v1/external-tasks/<task_id>/extend-lock"): ("admin", "external-tasks"),
} | {route: ("admin", "admin") for route in API if route[1].startswith("/api/v1/webhooks")}
ROUTE_SCOPES |= {route: ("admin", "scim") for route in API if route[1].startswith("/scim/")}


def test_every_api_route_has_its_scope():
    assert set(ROUTE_SCOPES) == set(API) - {("GET", "/api/v1/openapi.json")}


def _call(client, app, method: str, rule: str, token: str, tag: str):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"}
    url = fill(rule, app)
    if method == "GET":
        return client.get(url, headers=headers, query_string=QUERIES.get(rule))
    if rule == "/api/v1/process-definitions":
        files = {"files": [(io.BytesIO(one_approval(pid=f"m_{tag}").encode()), "m.bpmn")]}
        return client.post(url, headers=headers, content_type="multipart/form-data", data=files)
    return client.open(url, method=method, headers=headers, json=BODIES.get(rule, {}))


def test_api_scopes(app, setup):
    """Every API route: exactly its scope is enough; every other scope of the user's roles is not."""
    ctx, _ = setup
    client = app.test_client()
    for n, ((method, rule), (caller, scope)) in enumerate(ROUTE_SCOPES.items()):
        username = SCOPE_CALLERS[caller]
        roles = frozenset(users.get_user(ctx, username).roles)
        only = tokens_service.create_token(ctx, username, "only", [scope])
        response = _call(client, app, method, rule, only, f"only{n}")
        assert response.status_code == API[(method, rule)][CALLERS.index(caller)], (scope, method, rule, response.json)
        others = tokens_service.create_token(ctx, username, "others", sorted(scopes_of_roles(roles) - {scope}))
        response = _call(client, app, method, rule, others, f"others{n}")
        assert response.status_code == 403, (scope, method, rule, response.json)
        if rule.startswith("/scim/"):  # a SCIM Error: its detail names the scope
            assert f"{scope!r}" in response.json["detail"], (rule, response.json)
            continue
        assert scope_base(response.json["error"]["details"].get("missing_scope", "")) == scope, (
            method,
            rule,
            response.json,
        )
        assert scope in response.json["error"]["message"]
