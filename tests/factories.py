"""Test data: users, actors, deployments of the shipped workflows."""

from __future__ import annotations

import re
from pathlib import Path

from engine.admin import tokens, users
from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.definitions import deployments
from engine.spiff.model.parsing import SourceFile

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
ADMIN = Actor("pmo", roles=frozenset({"admin", "designer"}))
BOT = Actor("intake-bot", roles=frozenset({"api"}))


def actor(name: str, *groups: str, roles: tuple[str, ...] = ("approver",)) -> Actor:
    return Actor(name, roles=frozenset(roles), groups=frozenset(groups))


ALICE = actor("alice", "IT Manager")
BOB = actor("bob", "Finance")
CAROL = actor("carol", "Security")
DAVE = actor("dave", "Operations")
ERIN = actor("erin", "PMO Director")
AUDREY = actor("audrey", roles=("auditor",))


SEPARATION_OF_DUTIES = re.compile(rb"\s*<pmoflow:separationOfDuties\b[^>]*/>")


def shipped_files(separation_of_duties: bool = True) -> list[SourceFile]:
    """The files of workflows/; without `separation_of_duties`, the processes lose that rule (project-intake
    keeps it: tests of delegation mechanics hand its tasks outside the lane, which the rule forbids)."""
    files = []
    for p in sorted(WORKFLOWS.iterdir()):
        if p.suffix in (".bpmn", ".dmn", ".form"):
            content = p.read_bytes()
            if not separation_of_duties and p.suffix == ".bpmn":
                content = SEPARATION_OF_DUTIES.sub(b"", content)
            files.append(SourceFile(p.name, content))
    return files


def deploy_shipped(ctx: EngineContext, separation_of_duties: bool = True) -> None:
    deployments.deploy(ctx, ADMIN, shipped_files(separation_of_duties))


def deploy_intake_renamed(ctx: EngineContext, name: str) -> None:
    """A new version of the shipped project-intake: the same files, the process named `name`."""
    old = b'<bpmn:process id="project-intake" name="Project intake"'
    new = b'<bpmn:process id="project-intake" name="' + name.encode() + b'"'
    deployments.deploy(ctx, ADMIN, [SourceFile(f.filename, f.content.replace(old, new)) for f in shipped_files()])


def source(name: str, text: str | bytes) -> SourceFile:
    return SourceFile(name, text.encode() if isinstance(text, str) else text)


def make_token(ctx: EngineContext, name: str, groups: list[str], roles: list[str]) -> str:
    users.create_user(ctx, name, None, groups, roles)
    return tokens.create_token(ctx, name, "test")


def write_concurrently(ctx: EngineContext, writers: int = 4, rounds: int = 8) -> None:
    """`writers` threads, each committing `rounds` transactions of two events (a login, then a
    password change) as user0, user1, ...; raises the first error any thread met."""
    import threading

    from engine.events import stream as audit

    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(rounds):
                with ctx.uow() as uow:
                    audit.record(uow.session, "login", ctx.clock.now(), actor=name)
                    audit.record(uow.session, "password_changed", ctx.clock.now(), actor=name)
                    uow.commit()
        except BaseException as err:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(f"user{i}",)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
