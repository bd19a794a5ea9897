"""The `/pmoflow` slash command, once verified: `/pmoflow` (or `tasks`) lists the caller's open tasks, `link`
sends a one-time link that connects their Slack account, `help` says so. A Slack user pmoflow cannot match
gets the link. Every answer is ephemeral: only the caller sees it.
"""

from __future__ import annotations

from typing import Any

from engine.core.context import EngineContext
from engine.integration.slack.verification import identifier
from engine.slack import accounts, api, blocks
from engine.tasks.inbox import InboxFilter, inbox

LISTED = 10
HELP = (
    "`/pmoflow` lists your open tasks in pmoflow; `/pmoflow link` connects your Slack account to your "
    "pmoflow account. Tasks that only need approve or reject come to you here with buttons."
)


def command(ctx: EngineContext, form: dict[str, str]) -> dict[str, Any]:
    """The answer to one verified slash command request; raises InvalidInput."""
    team = identifier(form.get("team_id"), "team_id")
    slack_user = identifier(form.get("user_id"), "user_id")
    name = (form.get("user_name") or slack_user)[:200]
    words = (form.get("text") or "").strip().lower().split()
    verb = words[0] if words else "tasks"
    if verb not in ("tasks", "list", "link"):
        return blocks.reply(HELP)
    if verb == "link":
        return blocks.reply(_connect(accounts.link_url(ctx, team, slack_user, name)))
    try:
        actor = accounts.actor_for_slack(ctx, team, slack_user)
    except (api.SlackError, api.SlackUnavailable):
        return blocks.reply("pmoflow could not check who you are with Slack: try again in a minute.")
    if actor is None:
        return blocks.reply(
            "pmoflow does not know your Slack account yet. " + _connect(accounts.link_url(ctx, team, slack_user, name))
        )
    page = inbox(ctx, actor, InboxFilter(scope="all", per_page=LISTED))
    base = ctx.settings.base_url.rstrip("/")
    listed = [
        blocks.ListedTask(
            name=row.task.name,
            request=" · ".join(p for p in (row.title, row.task.business_key, row.task.process_name) if p),
            due=row.task.due_at,
            overdue=row.sla == "overdue",
            url=f"{base}/tasks/{row.task.id}",
        )
        for row in page.items
    ]
    return blocks.task_list(listed, page.total, f"{base}/tasks")


def _connect(link: str) -> str:
    return f"<{link}|Connect your Slack account> to pmoflow: the link works once, for a short while."
