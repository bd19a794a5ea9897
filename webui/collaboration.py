"""The comment and attachment forms, shared by the request page and the task page.

Each helper calls one service with the posted values; it returns None when the change is
done (and flashes a message), or the form's "panel" (which form, its values and per-field
errors) for the page to show again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import flash, request
from markupsafe import Markup, escape

from engine.core.errors import InvalidInput, TooLarge
from engine.requester import attachments, comments
from webui.errors import field_errors
from webui.security import actor, engine_ctx


def no_panel() -> dict[str, Any]:
    return {"form": None, "errors": {}, "values": {}}


def comment_from_form(instance_id: str | None = None, task_id: str | None = None) -> dict[str, Any] | None:
    """Add the posted comment; None when done (with a flash), else the form's panel to show again."""
    form = request.form
    try:
        added = comments.add_comment(
            engine_ctx(),
            actor(),
            form.get("body", ""),
            instance_id=instance_id,
            task_id=task_id,
            parent_id=form.get("parent") or None,
        )
    except InvalidInput as err:
        return {"form": "comment", "errors": field_errors(err), "values": form.to_dict()}
    flash("Your reply is posted." if added.comment.parent_id else "Your comment is posted.", "info")
    if added.not_notified:
        who = "; ".join(f"@{name}: {why}" for name, why in added.not_notified.items())
        flash(f"Not notified: {who}.", "error")
    return None


def mentions(text: str, unknown: Iterable[str] = ()) -> Markup:
    """Escape a comment and mark its @mentions (the Jinja filter `mentions`); one of `unknown`, an @name
    that is no user, is marked as such, with words for screen readers, not as a mention."""
    nobody = set(unknown)
    parts: list[str] = []
    last = 0
    for match in comments.MENTION.finditer(text):
        name = comments.mention_name(match.group(1))
        if not name:
            continue
        parts.append(escape(text[last : match.start()]))
        if name in nobody:
            parts.append(
                Markup(
                    '<span class="mention unknown" title="No user {0}: nobody was notified">@{0}'
                    '<span class="sr-only"> (no such user)</span></span>'
                ).format(name)
            )
        else:
            parts.append(Markup('<strong class="mention">@{}</strong>').format(name))
        last = match.start() + 1 + len(name)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def attachment_from_form(instance_id: str | None = None, task_id: str | None = None) -> dict[str, Any] | None:
    """Attach the posted file or link; None when done (with a flash), else the form's panel to show again."""
    form = request.form
    kind = "link" if form.get("kind") == "link" else "document"
    ctx = engine_ctx()
    try:
        if kind == "link":
            added = attachments.add_link(
                ctx, actor(), form.get("url", ""), form.get("label", ""), instance_id=instance_id, task_id=task_id
            )
        else:
            upload = request.files.get("file")
            name = (upload.filename or "") if upload else ""
            content = upload.stream.read(ctx.settings.max_upload_bytes + 1) if upload else b""
            added = attachments.add_document(ctx, actor(), name, content, instance_id=instance_id, task_id=task_id)
    except (InvalidInput, TooLarge) as err:
        return {"form": kind, "errors": field_errors(err), "values": form.to_dict()}
    flash(f"Attached: {added.name}", "info")
    return None
