"""The comment and attachment forms, shared by the request page and the task page.

Each helper calls one service with the posted values; it returns None when the change is
done (and flashes a message), or the form's "panel" (which form, its values and per-field
errors) for the page to show again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, flash, request

from engine.core.errors import Forbidden, InvalidInput, NotFound, TooLarge
from engine.requester import attachments, comments
from webui.security import actor, engine_ctx


@contextmanager
def http_errors() -> Iterator[None]:
    """NotFound -> 404 and Forbidden -> 403, for the pages."""
    try:
        yield
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)


def no_panel() -> dict[str, Any]:
    return {"form": None, "errors": {}, "values": {}}


def fields_of(err: InvalidInput) -> dict[str, str]:
    details = err.details if isinstance(err.details, dict) else {}
    fields = details.get("fields")
    return dict(fields) if isinstance(fields, dict) else {"_": err.message}


def comment_from_form(instance_id: str | None = None, task_id: str | None = None) -> dict[str, Any] | None:
    """Add the posted comment; None when done (with a flash), else the form's panel to show again."""
    form = request.form
    with http_errors():
        try:
            added = comments.add_comment(engine_ctx(), actor(), form.get("body", ""), instance_id=instance_id,
                                         task_id=task_id, parent_id=form.get("parent") or None)
        except InvalidInput as err:
            return {"form": "comment", "errors": fields_of(err), "values": form.to_dict()}
    flash("Your reply is posted." if added.comment.parent_id else "Your comment is posted.", "info")
    if added.not_notified:
        who = ", ".join(f"{name} ({why})" for name, why in added.not_notified.items())
        flash(f"Not notified: {who}.", "error")
    return None


def attachment_from_form(instance_id: str | None = None, task_id: str | None = None) -> dict[str, Any] | None:
    """Attach the posted file or link; None when done (with a flash), else the form's panel to show again."""
    form = request.form
    kind = "link" if form.get("kind") == "link" else "document"
    ctx = engine_ctx()
    with http_errors():
        try:
            if kind == "link":
                added = attachments.add_link(ctx, actor(), form.get("url", ""), form.get("label", ""),
                                             instance_id=instance_id, task_id=task_id)
            else:
                upload = request.files.get("file")
                name = (upload.filename or "") if upload else ""
                content = upload.stream.read(ctx.settings.max_upload_bytes + 1) if upload else b""
                added = attachments.add_document(ctx, actor(), name, content, instance_id=instance_id,
                                                 task_id=task_id)
        except (InvalidInput, TooLarge) as err:
            fields = fields_of(err) if isinstance(err, InvalidInput) else dict(err.details["fields"])
            return {"form": kind, "errors": fields, "values": form.to_dict()}
    flash(f"Attached: {added.name}", "info")
    return None
