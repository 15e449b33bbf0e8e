"""patient self pay: a patient who pays for their own sessions needs no prior authorization

Revision ID: 0016_patient_self_pay
Revises: 0015_protocol_rules_upgrade
Create Date: 2026-12-06 04:15:00

``patient.self_pay`` (false: insurance) is the patient form's "Payment: Insurance / Self-pay";
the ``prior_auth_valid`` gating rule passes for a self-pay patient, where the front desk used
to need a clinician's override with the reason "Self-pay patient" on every booking.  Existing
patients are insurance patients (server default false).

A plain ADD COLUMN, also on SQLite (batch mode would copy and drop tables others refer to).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_patient_self_pay"
down_revision: str | None = "0015_protocol_rules_upgrade"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "patient",
        sa.Column("self_pay", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE patient DROP COLUMN self_pay")
    else:
        op.drop_column("patient", "self_pay")
