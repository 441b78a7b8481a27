"""jobs: owner key id, audit checkpoint

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('rows_audited', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('result_bytes', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('part_name', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_jobs_owner_status', ['owner_key_id', 'status'], unique=False)
    # Jobs made before this revision know only their key's label. Where exactly one key (revoked ones included: keys
    # are never deleted) ever had that label, that key made the job; the others stay visible to admin keys only.
    op.execute("UPDATE jobs SET owner_key_id = "
               "(SELECT api_keys.key_id FROM api_keys WHERE api_keys.label = jobs.actor) "
               "WHERE owner_key_id IS NULL "
               "AND (SELECT count(*) FROM api_keys WHERE api_keys.label = jobs.actor) = 1")
    # Rows already audited by a finished or running job: a running one must not audit them again when taken up.
    op.execute("UPDATE jobs SET rows_audited = rows_done")


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_owner_status')
        batch_op.drop_column('part_name')
        batch_op.drop_column('result_bytes')
        batch_op.drop_column('rows_audited')
        batch_op.drop_column('owner_key_id')
