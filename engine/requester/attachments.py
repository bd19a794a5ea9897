"""Attachments on a request: documents (stored in the database) and links to where documents live.

Anyone who may see the request may list and download its attachments. A document's
declared content type is never trusted: downloads are sent as attachments, with the type
derived from the file name only when it is on a short list of harmless ones. Links must
be http or https and are labelled by their host (SharePoint, OneDrive, Google Drive,
Dropbox, or just the host name).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, NotFound, TooLarge
from engine.core.permissions import Actor, require
from engine.db.models import Attachment, ProcessInstance
from engine.events import stream as audit
from engine.runtime.instances import check_can_see
from engine.tasks.collaboration import request_target

NAME_LIMIT = 200
URL_LIMIT = 2000
SAFE_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)
PROVIDERS = (  # (host suffix, label); the first match wins
    ("sharepoint.com", "SharePoint"),
    ("sharepoint.us", "SharePoint"),
    ("onedrive.live.com", "OneDrive"),
    ("1drv.ms", "OneDrive"),
    ("drive.google.com", "Google Drive"),
    ("docs.google.com", "Google Drive"),
    ("dropbox.com", "Dropbox"),
    ("dropboxusercontent.com", "Dropbox"),
    ("db.tt", "Dropbox"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AttachmentView:
    id: str
    kind: str  # document | link
    name: str
    url: str | None
    provider: str | None  # links: SharePoint, Google Drive, Dropbox, ... or the host
    size: int
    created_by: str
    created_at: datetime
    task_id: str | None

    @classmethod
    def of(cls, row: Attachment) -> AttachmentView:
        return cls(
            id=row.uuid,
            kind=row.kind,
            name=row.name,
            url=row.url,
            provider=link_provider(row.url) if row.url else None,
            size=row.size,
            created_by=row.created_by,
            created_at=row.created_at,
            task_id=row.task_uuid,
        )


@dataclass(frozen=True)
class Download:
    name: str
    content_type: str
    content: bytes


def link_provider(url: str) -> str:
    """'SharePoint', 'OneDrive', 'Google Drive', 'Dropbox', else the host name."""
    host = (urlsplit(url).hostname or "").lower()
    for suffix, label in PROVIDERS:
        if host == suffix or host.endswith("." + suffix):
            return label
    return host or "link"


def safe_filename(name: str) -> str:
    """The last path part of an uploaded file's name, without control characters; may be ''."""
    name = unicodedata.normalize("NFC", name or "")
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = _CONTROL.sub("", name).strip().strip(".")
    if len(name) > NAME_LIMIT:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: NAME_LIMIT - len(suffix) - 1] + dot + suffix) if dot and len(suffix) < 12 else name[:NAME_LIMIT]
    return name


def add_document(
    ctx: EngineContext,
    actor: Actor,
    filename: str,
    content: bytes,
    *,
    instance_id: str | None = None,
    task_id: str | None = None,
) -> AttachmentView:
    """Store an uploaded document on a request; raises NotFound, Forbidden, InvalidInput, TooLarge."""
    require(actor, "attachment.add")
    name = safe_filename(filename)
    limit = ctx.settings.max_upload_bytes
    if not name:
        raise InvalidInput("choose a file to upload", {"fields": {"file": "required"}})
    if not content:
        raise InvalidInput("the file is empty", {"fields": {"file": "the file is empty"}})
    if len(content) > limit:
        raise TooLarge(
            f"the file is {len(content):,} bytes; the limit is {limit:,}",
            {"fields": {"file": f"larger than {limit:,} bytes"}},
        )
    guessed = mimetypes.guess_type(name)[0]
    return _add(
        ctx,
        actor,
        instance_id,
        task_id,
        Attachment(
            kind="document",
            name=name,
            content=content,
            size=len(content),
            content_type=guessed if guessed in SAFE_TYPES else "application/octet-stream",
        ),
    )


def add_link(
    ctx: EngineContext,
    actor: Actor,
    url: str,
    label: str = "",
    *,
    instance_id: str | None = None,
    task_id: str | None = None,
) -> AttachmentView:
    """Attach a link (http or https only) to a request; raises NotFound, Forbidden, InvalidInput."""
    require(actor, "attachment.add")
    url, label = (url or "").strip(), _CONTROL.sub("", label or "").strip()
    problem = _url_problem(url)
    errors = {"url": problem} if problem else {}
    if len(label) > NAME_LIMIT:
        errors["label"] = f"at most {NAME_LIMIT} characters"
    if errors:
        raise InvalidInput("the link is invalid", {"fields": errors})
    name = label or _link_name(url)
    return _add(ctx, actor, instance_id, task_id, Attachment(kind="link", name=name[:NAME_LIMIT], url=url, size=0))


def _link_name(url: str) -> str:
    """A file name at the end of the path if there is one, else host and path."""
    parts = urlsplit(url)
    last = PurePosixPath(unquote(parts.path)).name
    if "." in last.strip("."):
        return last
    shown = (parts.hostname or "") + parts.path.rstrip("/")
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _url_problem(url: str) -> str | None:
    if not url:
        return "required"
    if len(url) > URL_LIMIT:
        return f"at most {URL_LIMIT} characters"
    if _CONTROL.search(url) or " " in url:
        return "may not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a valid address"
    if parts.scheme.lower() not in ("http", "https"):
        return "must start with https:// (or http://)"
    if not host or parts.username or parts.password:
        return "needs a host name and no user name or password"
    return None


def _add(
    ctx: EngineContext,
    actor: Actor,
    instance_id: str | None,
    task_id: str | None,
    row: Attachment,
) -> AttachmentView:
    with ctx.uow() as uow:
        session = uow.session
        instance, task = request_target(session, actor, instance_id, task_id)
        now = ctx.clock.now()
        row.instance_id, row.task_uuid, row.created_by, row.created_at = (
            instance.id,
            task.uuid if task else None,
            actor.username,
            now,
        )
        session.add(row)
        session.flush()
        view = AttachmentView.of(row)
        audit.record(
            session,
            "attachment_added",
            now,
            instance=instance,
            actor=actor.username,
            task_uuid=row.task_uuid,
            data={
                "attachment": row.uuid,
                "kind": row.kind,
                "name": row.name,
                "size": row.size,
                "url": row.url,
                "provider": view.provider,
            },
        )
        uow.commit()
        return view


def listing(session: Session, instance: ProcessInstance) -> list[AttachmentView]:
    """An instance's attachments, oldest first (without their content)."""
    rows = session.scalars(
        select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.id)
    ).all()
    return [AttachmentView.of(r) for r in rows]


def download(ctx: EngineContext, actor: Actor, attachment_id: str) -> Download:
    """A document's bytes for someone who may see its request; raises NotFound, Forbidden."""
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(select(Attachment).where(Attachment.uuid == attachment_id)).first()
        if row is None or row.kind != "document" or row.content is None:
            raise NotFound(f"document {attachment_id} does not exist")
        instance = uow.session.get_one(ProcessInstance, row.instance_id)
        check_can_see(uow.session, actor, instance)
        return Download(row.name, row.content_type or "application/octet-stream", bytes(row.content))
