"""ui sessions: the analyst interface's server-side sign-in sessions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:40:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('ui_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('ui_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_ui_sessions_key_id', ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ui_sessions_last_seen_at'), ['last_seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ui_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ui_sessions_last_seen_at'))
        batch_op.drop_index('ix_ui_sessions_key_id')

    op.drop_table('ui_sessions')
