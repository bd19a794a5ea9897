"""The audit search's vocabulary: every kind of action the engine records (`ACTIONS`, what the search
offers), and the presets that show some of them (`PRESETS`; the search page opens on `DEFAULT_PRESET`,
which hides sign-ins)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement

from engine.db.models import Event

HUMAN_TASK_EVENTS = ("approval_decided", "comment_added", "attachment_added", "sla_breached", "escalation_skipped")
SIGN_INS = ("login", "login_failed", "login_locked", "logout", "sessions_ended")


@dataclass(frozen=True)
class Preset:
    """A named view of the trail: only some actions (`types`), or all but some (`hides`), or everything."""

    key: str
    label: str
    description: str
    types: tuple[str, ...] | None = None
    hides: tuple[str, ...] = ()

    def condition(self) -> ColumnElement[bool] | None:
        if self.types is not None:
            return Event.type.in_(self.types)
        return Event.type.not_in(self.hides) if self.hides else None


PRESETS = {
    p.key: p
    for p in (
        Preset("activity", "All but sign-ins", "everything but sign-ins and sign-outs", hides=SIGN_INS),
        Preset(
            "decisions",
            "Decisions",
            "tasks completed with their decisions, approvals, decision tables evaluated",
            types=("task_completed", "approval_decided", "decision_evaluated"),
        ),
        Preset(
            "workflows",
            "Changes to workflows",
            "versions deployed or published, drafts discarded, instances moved to another version, calendars, "
            "retention, connector hosts, webhooks and channel settings",
            types=(
                "definition_deployed",
                "decision_deployed",
                "draft_published",
                "draft_discarded",
                "instance_migrated",
                "calendar_saved",
                "calendar_deleted",
                "calendar_holidays_changed",
                "retention_policy_changed",
                "connector_host_added",
                "connector_host_removed",
                "webhook_created",
                "webhook_updated",
                "webhook_deleted",
                "webhook_secret_rotated",
                "channel_setting_changed",
            ),
        ),
        Preset(
            "interventions",
            "Interventions",
            "instances cancelled, retried, moved or corrected by hand; tasks handed to someone else",
            types=(
                "instance_cancelled",
                "incident_retried",
                "instance_migrated",
                "variables_changed",
                "task_reassigned",
                "task_delegated",
            ),
        ),
        Preset(
            "access",
            "People and access",
            "accounts, roles, groups, API tokens and out-of-office substitutes",
            types=(
                "user_created",
                "user_updated",
                "user_deactivated",
                "user_reactivated",
                "user_deleted",
                "roles_changed",
                "group_created",
                "group_updated",
                "group_deleted",
                "group_member_added",
                "group_member_removed",
                "group_manager_set",
                "token_created",
                "token_revoked",
                "out_of_office_set",
                "out_of_office_cleared",
            ),
        ),
        Preset(
            "security",
            "Security (sign-ins)",
            "sign-ins, failed sign-ins, lock-outs, sign-outs, ended sessions and password changes",
            types=(*SIGN_INS, "password_changed", "password_reset"),
        ),
        Preset("all", "Everything", "every event"),
    )
}
DEFAULT_PRESET = "activity"  # the search page's first view: sign-in noise hidden


ACTIONS = (
    "definition_deployed",
    "decision_deployed",
    "instance_started",
    "instance_cancelled",
    "instance_completed",
    "instance_migrated",
    "task_created",
    "task_claimed",
    "task_unclaimed",
    "task_delegated",
    "task_reassigned",
    "task_completed",
    "task_cancelled",
    "comment_added",
    "attachment_added",
    "sla_breached",
    "task_escalated",
    "decision_evaluated",
    "element_completed",
    "timer_fired",
    "incident_raised",
    "incident_retried",
    "message_received",
    "signal_sent",
    "signal_received",
    "signal_thrown",
    "signal_dropped",
    "approval_decided",
    "user_created",
    "user_updated",
    "user_deactivated",
    "user_reactivated",
    "user_deleted",
    "roles_changed",
    "password_changed",
    "password_reset",
    "group_created",
    "group_updated",
    "group_deleted",
    "group_member_added",
    "group_member_removed",
    "token_created",
    "token_revoked",
    "login",
    "login_failed",
    "login_locked",
    "logout",
    "sessions_ended",
    "out_of_office_set",
    "out_of_office_cleared",
    "external_task_created",
    "external_task_locked",
    "external_task_completed",
    "external_task_failed",
    "external_task_bpmn_error",
    "external_task_cancelled",
    "draft_published",
    "draft_discarded",
    "variables_changed",
    "instance_purged",
    "retention_policy_changed",
    "calendar_saved",
    "calendar_deleted",
    "calendar_holidays_changed",
    "connector_host_added",
    "connector_call_queued",
    "connector_call_completed",
    "connector_result_dropped",
    "webhook_created",
    "webhook_updated",
    "webhook_redelivered",
    "webhook_secret_rotated",
    "group_manager_set",
    "notification_settings_changed",
    "instance_watched",
    "instance_unwatched",
    "slack_account_linked",
    "oidc_linked",
    "oidc_claim_unresolved",
    "escalation_skipped",
    "sla_invalid",
    "task_reminder",
    "connector_host_removed",
    "webhook_deleted",
    "channel_setting_changed",
)


__all__ = ["ACTIONS", "DEFAULT_PRESET", "HUMAN_TASK_EVENTS", "PRESETS", "SIGN_INS", "Preset"]
