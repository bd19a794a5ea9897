"""tamper-evident audit trail (hash chain, append-only)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 23:00:00
"""
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}

# PostgreSQL: events are append-only for everyone who does not own the schema's triggers.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION pmoflow_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on events is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION pmoflow_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION pmoflow_events_append_only();
"""

def new_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column('seq', sa.BigInteger(), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=True),
        sa.Column('hash', sa.String(length=64), nullable=True),
        sa.Column('actor_kind', sa.String(length=10), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('on_behalf_of', sa.String(length=80), nullable=True),
        sa.Column('instance_uuid', sa.String(length=36), nullable=True),
        sa.Column('business_key', sa.String(length=200), nullable=True),
        sa.Column('definition_key', sa.String(length=200), nullable=True),
        sa.Column('definition_version', sa.Integer(), nullable=True),
        sa.Column('search_text', sa.String(length=500), nullable=True),
    )
INDEXES = (
    ('ix_events_instance_uuid', ['instance_uuid', 'seq']),
    ('ix_events_business_key', ['business_key', 'seq']),
    ('ix_events_actor', ['actor', 'seq']),
    ('ix_events_definition', ['definition_key', 'seq']),
    ('ix_events_occurred', ['occurred_at']),
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == 'postgresql'
    with op.batch_alter_table('events', schema=None, naming_convention=NAMING) as batch_op:
        for column in new_columns():
            batch_op.add_column(column)
    _chain_existing(bind)
    with op.batch_alter_table('events', schema=None, naming_convention=NAMING) as batch_op:
        for name in ('seq', 'prev_hash', 'hash', 'actor_kind', 'search_text'):
            column = next(c for c in new_columns() if c.name == name)
            batch_op.alter_column(name, existing_type=column.type, nullable=False)
        batch_op.create_unique_constraint('uq_events_seq', ['seq'])
        batch_op.drop_constraint('events_instance_id_fkey' if postgres
                                 else 'fk_events_instance_id_process_instances', type_='foreignkey')
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")     # trusted: the database owner may create it
        op.execute(APPEND_ONLY)
    op.create_index('ix_events_search', 'events', ['search_text'], unique=False, postgresql_using='gin',
                    postgresql_ops={'search_text': 'gin_trgm_ops'})


# ---- frozen copies of the engine code this revision used (engine/events/stream.py and engine/db/models.py
# as of 2026-11-25): a migration must do the same thing forever, whatever later code says. Do not import
# engine code here; tests/engine/events/test_audit_chain.py checks the chain it writes against the live verifier.
GENESIS = "0" * 64
SYSTEM_ACTORS = frozenset({"system", "cli", "worker", "timer", "connector", "scheduler"})
SEARCH_TEXT_LIMIT = 500
HASHED = ("uuid", "type", "occurred_at", "instance_uuid", "business_key", "definition_key", "definition_version",
          "task_uuid", "element_id", "actor", "actor_kind", "token_id", "on_behalf_of", "data")


class UTCDateTime(sa.types.TypeDecorator):
    """Reads stored datetimes as aware UTC datetimes (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def searchable(data: dict[str, Any], element_id: str | None = None) -> str:
    """The words of an event that the auditor's text search looks in: the values in its data."""
    words: list[str] = [element_id] if element_id else []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None and not isinstance(value, bool):
            words.append(str(value))

    walk(data)
    return " ".join(words)[:SEARCH_TEXT_LIMIT]


def canonical(values: dict[str, Any]) -> dict[str, Any]:
    """The hashed content of an event (everything but id, seq and the hashes)."""
    content = {name: values[name] for name in HASHED}
    content["occurred_at"] = values["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    return content


def chain_hash(content: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of `content` plus `prev_hash`."""
    body = json.dumps({**content, "prev_hash": prev_hash}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()
# ---- end of the frozen copies


def _chain_existing(bind: sa.engine.Connection) -> None:
    """Link the events written before this revision into the chain, oldest first."""
    events = sa.table('events', *(sa.column(n) for n in (
        'id', 'uuid', 'type', 'instance_id', 'task_uuid', 'element_id', 'actor', 'seq', 'prev_hash',
        'hash', 'actor_kind', 'token_id', 'on_behalf_of', 'instance_uuid', 'business_key', 'definition_key',
        'definition_version', 'search_text')), sa.column('occurred_at', UTCDateTime()), sa.column('data', sa.JSON()))
    instances = sa.table('process_instances', sa.column('id'), sa.column('uuid'), sa.column('business_key'),
                         sa.column('definition_id'))
    definitions = sa.table('process_definitions', sa.column('id'), sa.column('key'), sa.column('version'))
    query = (sa.select(events, instances.c.uuid.label('i_uuid'), instances.c.business_key.label('i_key'),
                       definitions.c.key.label('d_key'), definitions.c.version.label('d_version'))
             .select_from(events.outerjoin(instances, instances.c.id == events.c.instance_id)
                          .outerjoin(definitions, definitions.c.id == instances.c.definition_id))
             .order_by(events.c.id))
    prev, seq = GENESIS, 0
    for row in bind.execute(query).mappings().all():
        seq += 1
        data = row['data'] or {}
        behalf = data.get('on_behalf_of') if isinstance(data.get('on_behalf_of'), str) else None
        kind = 'system' if row['actor'] is None or row['actor'] in SYSTEM_ACTORS else 'user'
        values = dict(seq=seq, prev_hash=prev, actor_kind=kind, token_id=None, on_behalf_of=behalf,
                      instance_uuid=row['i_uuid'], business_key=row['i_key'], definition_key=row['d_key'],
                      definition_version=row['d_version'], search_text=searchable(data, row['element_id']))
        values['hash'] = prev = chain_hash(canonical({**row, **values, 'data': data}), prev)
        bind.execute(events.update().where(events.c.id == row['id']).values(**values))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS pmoflow_events_append_only()")
    op.drop_index('ix_events_search', table_name='events')
    with op.batch_alter_table('events', schema=None, naming_convention=NAMING) as batch_op:
        for name, _columns in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_constraint('uq_events_seq', type_='unique')
        for column in reversed(new_columns()):
            batch_op.drop_column(column.name)
        batch_op.create_foreign_key('events_instance_id_fkey' if bind.dialect.name == 'postgresql'
                                    else 'fk_events_instance_id_process_instances',
                                    'process_instances', ['instance_id'], ['id'], ondelete='CASCADE')
