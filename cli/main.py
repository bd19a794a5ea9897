"""The `pmoflow` command line: init, serve, deploy, users, tokens, audit."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.errors import DeploymentInvalid, PmoflowError
from engine.core.permissions import SCOPES

if TYPE_CHECKING:  # the engine is imported by the commands, so `--help` starts fast
    from engine.core.context import EngineContext
    from engine.core.permissions import Actor
    from engine.core.records import DeploymentView
    from engine.spiff.model.parsing import SourceFile

DEPLOYABLE = (".bpmn", ".dmn", ".form")


def _cli_actor() -> Actor:
    from engine.core.permissions import Actor

    return Actor("cli", roles=frozenset({"admin", "designer"}))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DeploymentInvalid as err:
        print(f"error: {err.message}", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except PmoflowError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmoflow",
        description="pmoflow: BPMN workflows and DMN decisions for project-management offices.",
        epilog="Settings come from the environment: PMOFLOW_DATABASE_URL (default: an SQLite file under "
        "./var/), PMOFLOW_SECRET_KEY, PMOFLOW_WORKFLOWS_DIR (default: ./workflows); notification email "
        "and chat: PMOFLOW_BASE_URL, PMOFLOW_SMTP_HOST/_PORT/_SECURITY/_USERNAME/_PASSWORD/_FROM; decision "
        "links in messages: PMOFLOW_EMAIL_ACTIONS, PMOFLOW_SLACK_ACTIONS (defaults: admins switch them at run time "
        "under Administration > Channels), PMOFLOW_DECISION_LINK_DAYS; process posts: "
        "PMOFLOW_CHAT_CHANNELS; the Slack app: PMOFLOW_SLACK_BOT_TOKEN, PMOFLOW_SLACK_SIGNING_SECRET; single "
        "sign-on: PMOFLOW_OIDC_ISSUER/_CLIENT_ID/_CLIENT_SECRET (see README, Configuration).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create or upgrade the database schema and deploy the shipped workflows")
    p.add_argument("--demo", action="store_true", help="also create the demo users (password 'demo')")
    p.set_defaults(func=_init)

    p = sub.add_parser("serve", help="serve the web UI and the API with gunicorn")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    p.add_argument(
        "--no-worker", action="store_true", help="do not fire timers in this process (run 'pmoflow worker' separately)"
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser(
        "worker",
        help="run the background worker: fires due timers and runs queued jobs "
        "(notification emails, chat posts, daily digests, webhooks) until SIGTERM",
    )
    p.add_argument("--once", action="store_true", help="fire what is due now and exit")
    p.set_defaults(func=_worker)

    p = sub.add_parser("deploy", help="deploy .bpmn, .dmn and .form files (or folders of them) as one deployment")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--name", default="", help="a label for the deployment")
    p.set_defaults(func=_deploy)

    p = sub.add_parser("users", help="manage users")
    users_sub = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    c = users_sub.add_parser("create", help="create a user; the password is read from standard input")
    c.add_argument("name", help="the user name")
    c.add_argument("--group", action="append", default=[], metavar="G", help="a group (role lane); repeatable")
    c.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="R",
        help="a system role: admin, designer, approver, auditor, api, external-worker (a system that "
        "only fetches and completes external tasks); repeatable (default approver)",
    )
    c.add_argument("--display-name", default="", help="the name shown in the UI")
    c.add_argument(
        "--system",
        action="store_true",
        help="a system account: API tokens only, no password (none is read), no sign-in to the web UI",
    )
    c.set_defaults(func=_users_create)

    p = sub.add_parser("tokens", help="manage API tokens")
    tokens_sub = p.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    c = tokens_sub.add_parser("create", help="create an API token and print it (shown only once)")
    c.add_argument("--user", required=True, help="the user the token acts as")
    c.add_argument("--name", default="", help="a label, e.g. the calling system")
    c.add_argument(
        "--scope",
        action="append",
        metavar="S",
        help="what the token may do, within its user's roles; repeatable (default: every scope the roles allow). "
        "Scopes: " + "; ".join(f"{name}: {what}" for name, what in SCOPES.items()),
    )
    c.set_defaults(func=_tokens_create)

    p = sub.add_parser("audit", help="check the audit trail")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    c = audit_sub.add_parser(
        "verify",
        help="check the audit trail's hash chain; exit 1 and name the first "
        "changed, missing or reordered event if it was tampered with",
    )
    c.set_defaults(func=_audit_verify)
    return parser


def _context() -> EngineContext:
    from engine.bootstrap import context
    from engine.core.config import Settings, with_kept_secret_key

    return context(with_kept_secret_key(Settings.from_env()))


def _init(args: argparse.Namespace) -> int:
    from engine.admin import database, users
    from engine.definitions import deployments

    ctx = _context()
    database.upgrade_schema(ctx)
    print(f"database ready: {database.address(ctx)}")
    folder = Path(ctx.settings.workflows_dir)
    files = _collect([folder]) if folder.is_dir() else []
    if files:
        result = deployments.deploy(ctx, _cli_actor(), files, name="shipped workflows")
        _print_result(result, "  ")
    else:
        print(f"no workflows found in {folder}", file=sys.stderr)
    if args.demo:
        created = users.ensure_demo_users(ctx)
        print("WARNING: demo users have the password 'demo'. Do not use them in production.", file=sys.stderr)
        if created:
            print(f"demo users created: {', '.join(created)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from webui.server import serve

    serve(args.host, args.port, args.workers, args.threads, timer_worker=not args.no_worker)
    return 0


def _worker(args: argparse.Namespace) -> int:
    import logging
    import signal

    from engine.runtime.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ctx = _context()
    worker = Worker(ctx)
    if args.once:
        print(f"fired timers of {worker.fire_timers()} instance(s); ran {worker.run_jobs()} job(s)")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    ctx.start_sandbox()
    worker.run_forever()
    return 0


def _collect(paths: Sequence[Path]) -> list[SourceFile]:
    from engine.spiff.model.parsing import SourceFile

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in DEPLOYABLE))
        elif path.is_file():
            found.append(path)
        else:
            raise PmoflowError(f"{path} does not exist")
    return [SourceFile(p.name, p.read_bytes()) for p in found]


def _deploy(args: argparse.Namespace) -> int:
    from engine.definitions import deployments

    ctx = _context()
    files = _collect([Path(p) for p in args.paths])
    result = deployments.deploy(ctx, _cli_actor(), files, name=args.name)
    _print_result(result, "")
    return 0


def _print_result(result: DeploymentView, indent: str) -> None:
    """One line per process and decision version the deployment touched."""
    for kind, items in (("process", result.definitions), ("decision", result.decisions)):
        for d in items:
            print(f"{indent}{kind} {d.key} v{d.version}{' (new)' if d.new else ' (unchanged)'}")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise PmoflowError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _users_create(args: argparse.Namespace) -> int:
    from engine.admin import database, users

    password = None if args.system else _read_password()
    ctx = _context()
    try:
        view = users.create_user(
            ctx, args.name, password, args.group, args.role or ["approver"], args.display_name, "cli", args.system
        )
    finally:
        database.close(ctx)
    kind = "system account, " if args.system else ""
    print(f"created {view.username} ({kind}roles: {', '.join(view.roles)}; groups: {', '.join(view.groups) or '-'})")
    return 0


def _tokens_create(args: argparse.Namespace) -> int:
    from engine.admin import database, tokens

    ctx = _context()
    try:
        print(tokens.create_token(ctx, args.user, args.name, args.scope))
    finally:
        database.close(ctx)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from engine.admin import database
    from engine.audit import trail as audit_trail

    ctx = _context()
    try:
        result = audit_trail.verify(ctx, _cli_actor())
    finally:
        database.close(ctx)
    if result.broken is not None:
        print(f"audit trail BROKEN after {result.checked} good events: {result.broken}", file=sys.stderr)
        return 1
    print(f"audit trail intact: {result.checked} events, head seq {result.head_seq} hash {result.head_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
