"""prompt label events keep the evaluation results the gate saw

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 02:22:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prompt_label_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prompt_label_events", schema=None) as batch_op:
        batch_op.drop_column("evaluation")
