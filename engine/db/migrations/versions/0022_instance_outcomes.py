"""instance outcomes: approved / rejected / cancelled / failed / completed, stored when an instance ends

Finished instances are backfilled from what the database holds: a cancelled instance is 'cancelled';
a completed one reads its `outcome` variable, then the name of the last end event it reached (its
element_completed event), then the decision of its last deciding task, then its `decision` and
`approved` variables, else 'completed'. An instance stopped on an uncaught error end event is 'failed'.
engine.core.outcomes.classify is frozen below (migrations import no engine code); instances deployed
with pmoflow:outcome on an end event get the declared outcome from their next run on, not here.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 09:10:00
"""
from __future__ import annotations

import json
import re
from typing import Any

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

BATCH = 500

# engine.core.outcomes as of this revision, frozen
WORDS = {
    'cancelled': {'cancel', 'cancelled', 'canceled', 'cancellation', 'withdraw', 'withdrawn', 'abort', 'aborted',
                  'revoked'},
    'failed': {'fail', 'failed', 'failure', 'error', 'errored', 'crashed'},
    'rejected': {'reject', 'rejected', 'rejection', 'decline', 'declined', 'deny', 'denied', 'refuse', 'refused',
                 'disapprove', 'disapproved', 'unapproved', 'veto', 'vetoed'},
    'approved': {'approve', 'approved', 'accept', 'accepted', 'grant', 'granted', 'agree', 'agreed', 'authorised',
                 'authorized'},
}
WHOLE = {'yes': 'approved', 'y': 'approved', 'ok': 'approved', 'go': 'approved', 'no': 'rejected', 'n': 'rejected'}
NEGATIONS = {'not', 'no', 'never'}


def classify(value: Any, whole_words: bool = True) -> str | None:
    if isinstance(value, bool):
        return 'approved' if value else 'rejected'
    if not isinstance(value, str) or not value.strip():
        return None
    words = [w for w in re.split(r'[^a-z0-9]+', re.sub(r'(?<=[a-z0-9])(?=[A-Z])', ' ', value).lower()) if w]
    if whole_words and len(words) == 1 and words[0] in WHOLE:
        return WHOLE[words[0]]
    for outcome in ('cancelled', 'failed', 'rejected'):
        if any(w in WORDS[outcome] for w in words):
            return outcome
    for i, word in enumerate(words):
        if word in WORDS['approved']:
            return 'rejected' if any(w in NEGATIONS for w in words[:i]) else 'approved'
    return None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


instances = sa.table('process_instances', sa.column('id', sa.Integer), sa.column('status', sa.String),
                     sa.column('variables', sa.JSON), sa.column('error', sa.JSON), sa.column('outcome', sa.String))
events = sa.table('events', sa.column('id', sa.BigInteger), sa.column('instance_id', sa.Integer),
                  sa.column('type', sa.String), sa.column('data', sa.JSON))
tasks = sa.table('human_tasks', sa.column('id', sa.Integer), sa.column('instance_id', sa.Integer),
                 sa.column('status', sa.String), sa.column('completed_at', sa.DateTime), sa.column('data', sa.JSON))


def _completed(conn: Any, pk: int, variables: dict[str, Any]) -> str:
    found = classify(variables.get('outcome'))
    if found:
        return found
    ends = conn.execute(
        sa.select(events.c.data).where(events.c.instance_id == pk, events.c.type == 'element_completed')
        .order_by(events.c.id.desc()).limit(200)
    ).scalars()
    for data in ends:
        data = _json(data) or {}
        if data.get('type') == 'EndEvent' and (found := classify(data.get('name') or '', whole_words=False)):
            return found
    decided = conn.execute(
        sa.select(tasks.c.data).where(tasks.c.instance_id == pk, tasks.c.status == 'completed')
        .order_by(tasks.c.completed_at.desc(), tasks.c.id.desc()).limit(50)
    ).scalars()
    for data in decided:
        data = _json(data) or {}
        value = next((v for k, v in data.items() if str(k).lower().endswith('decision') and v not in (None, '')), None)
        if (found := classify(value)) is not None:
            return found
    for key in ('decision', 'approved'):
        value = variables.get(key)
        if (key == 'decision' or isinstance(value, bool)) and (found := classify(value)):
            return found
    return 'completed'


def upgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_instances_outcome', ['outcome', 'created_at'], unique=False)
    conn = op.get_bind()
    conn.execute(instances.update().where(instances.c.status == 'cancelled').values(outcome='cancelled'))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(instances.c.id, instances.c.status, instances.c.variables, instances.c.error)
            .where(instances.c.status.in_(('completed', 'error')), instances.c.id > last)
            .order_by(instances.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        for pk, status, variables, error in rows:
            last = pk
            if status == 'error':
                if (_json(error) or {}).get('kind') == 'UncaughtError':
                    conn.execute(instances.update().where(instances.c.id == pk).values(outcome='failed'))
                continue
            outcome = _completed(conn, pk, _json(variables) or {})
            conn.execute(instances.update().where(instances.c.id == pk).values(outcome=outcome))


def downgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_outcome')
        batch_op.drop_column('outcome')
