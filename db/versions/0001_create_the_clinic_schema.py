"""create the clinic schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 15:07:21.519396
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    op.create_table(
        "clinic_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_clinic_setting")),
    )
    op.create_table(
        "protocol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol")),
        sa.UniqueConstraint("code", name=op.f("uq_protocol_code")),
    )
    op.create_table(
        "resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subkind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("short_name", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('room', 'equipment', 'staff')", name=op.f("ck_resource_kind")),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_resource_capacity_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource")),
        sa.UniqueConstraint("name", name=op.f("uq_resource_name")),
    )
    op.create_table(
        "session_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("color", sa.String(length=16), nullable=False),
        sa.Column("dosing", sa.Boolean(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_type")),
        sa.UniqueConstraint("code", name=op.f("uq_session_type_code")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'prescriber', 'nurse', 'therapist', 'front_desk')",
            name=op.f("ck_app_user_role"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["resource.id"], name=op.f("fk_app_user_staff_id_resource")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_closure_order")),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
            name=op.f("fk_closure_resource_id_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure")),
    )
    op.create_index("ix_closure_span", "closure", ["starts_at", "ends_at"], unique=False)
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chart_number", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("preferred_name", sa.String(length=80), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("emergency_contact_name", sa.String(length=120), nullable=False),
        sa.Column("emergency_contact_phone", sa.String(length=40), nullable=False),
        sa.Column("screening_status", sa.String(length=16), nullable=False),
        sa.Column("screening_cleared_on", sa.Date(), nullable=True),
        sa.Column("screening_cleared_by_id", sa.Integer(), nullable=True),
        sa.Column("consent_signed_on", sa.Date(), nullable=True),
        sa.Column("rems_enrolled_on", sa.Date(), nullable=True),
        sa.Column("rems_patient_id", sa.String(length=40), nullable=False),
        sa.Column("prior_auth_number", sa.String(length=40), nullable=False),
        sa.Column("prior_auth_expires_on", sa.Date(), nullable=True),
        sa.Column("prior_auth_sessions", sa.Integer(), nullable=True),
        sa.Column("driver_name", sa.String(length=120), nullable=False),
        sa.Column("driver_phone", sa.String(length=40), nullable=False),
        sa.Column("contraindications", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "screening_status IN ('pending', 'cleared', 'not_eligible')",
            name=op.f("ck_patient_screening"),
        ),
        sa.ForeignKeyConstraint(
            ["screening_cleared_by_id"],
            ["resource.id"],
            name=op.f("fk_patient_screening_cleared_by_id_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("chart_number", name=op.f("uq_patient_chart_number")),
    )
    op.create_index("ix_patient_name", "patient", ["last_name", "first_name"], unique=False)
    op.create_table(
        "staff_member",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("credentials", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
            name=op.f("fk_staff_member_resource_id_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_staff_member")),
    )
    op.create_table(
        "staff_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint("end_minute > start_minute", name=op.f("ck_staff_shift_order")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_staff_shift_weekday")),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
            name=op.f("fk_staff_shift_resource_id_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_shift")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_audit_event_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_audit_event_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_event_entity", "audit_event", ["entity", "entity_id"], unique=False)
    op.create_index(op.f("ix_audit_event_patient_id"), "audit_event", ["patient_id"], unique=False)
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("planned_count", sa.Integer(), nullable=False),
        sa.Column("preferences", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'active', 'completed', 'dropped', 'cancelled')",
            name=op.f("ck_series_status"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_series_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["protocol_id"], ["protocol.id"], name=op.f("fk_series_protocol_id_protocol")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
    )
    op.create_index(op.f("ix_series_patient_id"), "series", ["patient_id"], unique=False)
    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("series_index", sa.Integer(), nullable=True),
        sa.Column("session_type_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("late_cancel", sa.Boolean(), nullable=False),
        sa.Column("checklist", JSON, nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('booked', 'checked_in', 'in_progress', 'completed', 'cancelled', "
            "'no_show')",
            name=op.f("ck_appointment_status"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_appointment_order")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_appointment_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["resource.id"], name=op.f("fk_appointment_room_id_resource")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_appointment_series_id_series")
        ),
        sa.ForeignKeyConstraint(
            ["session_type_id"],
            ["session_type.id"],
            name=op.f("fk_appointment_session_type_id_session_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
    )
    op.create_index(
        "ix_appointment_patient", "appointment", ["patient_id", "starts_at"], unique=False
    )
    op.create_index(op.f("ix_appointment_series_id"), "appointment", ["series_id"], unique=False)
    op.create_index("ix_appointment_span", "appointment", ["starts_at", "ends_at"], unique=False)
    live = "series_id IS NOT NULL AND status NOT IN ('cancelled', 'no_show')"
    op.create_index(
        "uq_appointment_series_place",
        "appointment",
        ["series_id", "series_index"],
        unique=True,
        sqlite_where=sa.text(live),
        postgresql_where=sa.text(live),
    )
    op.create_table(
        "appointment_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_appointment_event_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_appointment_event_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_event")),
    )
    op.create_index(
        op.f("ix_appointment_event_appointment_id"),
        "appointment_event",
        ["appointment_id"],
        unique=False,
    )
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_role", sa.String(length=32), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'cancelled', 'snoozed')", name=op.f("ck_follow_up_status")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_follow_up_appointment_id_appointment"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["resource.id"], name=op.f("fk_follow_up_assignee_id_resource")
        ),
        sa.ForeignKeyConstraint(
            ["completed_by_id"], ["app_user.id"], name=op.f("fk_follow_up_completed_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_follow_up_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
    )
    op.create_index(
        op.f("ix_follow_up_appointment_id"), "follow_up", ["appointment_id"], unique=False
    )
    op.create_index(op.f("ix_follow_up_patient_id"), "follow_up", ["patient_id"], unique=False)
    op.create_index("ix_follow_up_queue", "follow_up", ["status", "due_at"], unique=False)
    op.create_table(
        "gating_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_gating_override_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_gating_override_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_gating_override_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gating_override")),
    )
    op.create_index(
        op.f("ix_gating_override_appointment_id"),
        "gating_override",
        ["appointment_id"],
        unique=False,
    )
    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("items", JSON, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_measurement_appointment_id_appointment"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["app_user.id"], name=op.f("fk_measurement_entered_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_measurement_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement")),
    )
    op.create_index(
        "ix_measurement_patient", "measurement", ["patient_id", "taken_at"], unique=False
    )
    op.create_table(
        "resource_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("need", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "mode IN ('exclusive', 'shared', 'presence')", name=op.f("ck_resource_hold_mode")
        ),
        sa.CheckConstraint(
            "exclusive = (mode = 'exclusive')",
            name=op.f("ck_resource_hold_exclusive_matches_mode"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_resource_hold_order")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_resource_hold_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource.id"], name=op.f("fk_resource_hold_resource_id_resource")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_hold")),
    )
    op.create_index(
        op.f("ix_resource_hold_appointment_id"), "resource_hold", ["appointment_id"], unique=False
    )
    op.create_index(
        "ix_resource_hold_lookup",
        "resource_hold",
        ["resource_id", "starts_at", "ends_at"],
        unique=False,
    )
    op.create_index(
        "ix_resource_hold_span", "resource_hold", ["starts_at", "ends_at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        # The database itself refuses two active exclusive holds on one resource that overlap,
        # whichever workstation writes them.  btree_gist lets the gist index compare ids.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE resource_hold ADD CONSTRAINT no_overlapping_exclusive_holds "
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (exclusive AND active)"
        )
    op.create_table(
        "session_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("dose_mg", sa.Integer(), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=True),
        sa.Column("lot_number", sa.String(length=40), nullable=False),
        sa.Column("dose_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("monitored_minutes", sa.Integer(), nullable=True),
        sa.Column("monitored_by_id", sa.Integer(), nullable=True),
        sa.Column("sedation", sa.String(length=40), nullable=False),
        sa.Column("dissociation", sa.String(length=40), nullable=False),
        sa.Column("respiratory_depression", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_session_record_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["monitored_by_id"],
            ["resource.id"],
            name=op.f("fk_session_record_monitored_by_id_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_record")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_session_record_appointment_id")),
    )
    op.create_table(
        "follow_up_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_up.id"],
            name=op.f("fk_follow_up_attempt_follow_up_id_follow_up"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_follow_up_attempt_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_attempt")),
    )
    op.create_index(
        op.f("ix_follow_up_attempt_follow_up_id"),
        "follow_up_attempt",
        ["follow_up_id"],
        unique=False,
    )
    op.create_table(
        "vital_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("heart_rate", sa.Integer(), nullable=True),
        sa.Column("spo2", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["session_record.id"],
            name=op.f("fk_vital_reading_record_id_session_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_reading")),
    )
    op.create_index(
        op.f("ix_vital_reading_record_id"), "vital_reading", ["record_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_vital_reading_record_id"), table_name="vital_reading")
    op.drop_table("vital_reading")
    op.drop_index(op.f("ix_follow_up_attempt_follow_up_id"), table_name="follow_up_attempt")
    op.drop_table("follow_up_attempt")
    op.drop_table("session_record")
    op.drop_index("ix_resource_hold_span", table_name="resource_hold")
    op.drop_index("ix_resource_hold_lookup", table_name="resource_hold")
    op.drop_index(op.f("ix_resource_hold_appointment_id"), table_name="resource_hold")
    op.drop_table("resource_hold")
    op.drop_index("ix_measurement_patient", table_name="measurement")
    op.drop_table("measurement")
    op.drop_index(op.f("ix_gating_override_appointment_id"), table_name="gating_override")
    op.drop_table("gating_override")
    op.drop_index("ix_follow_up_queue", table_name="follow_up")
    op.drop_index(op.f("ix_follow_up_patient_id"), table_name="follow_up")
    op.drop_index(op.f("ix_follow_up_appointment_id"), table_name="follow_up")
    op.drop_table("follow_up")
    op.drop_index(op.f("ix_appointment_event_appointment_id"), table_name="appointment_event")
    op.drop_table("appointment_event")
    op.drop_index("uq_appointment_series_place", table_name="appointment")
    op.drop_index("ix_appointment_span", table_name="appointment")
    op.drop_index(op.f("ix_appointment_series_id"), table_name="appointment")
    op.drop_index("ix_appointment_patient", table_name="appointment")
    op.drop_table("appointment")
    op.drop_index(op.f("ix_series_patient_id"), table_name="series")
    op.drop_table("series")
    op.drop_index(op.f("ix_audit_event_patient_id"), table_name="audit_event")
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_table("staff_shift")
    op.drop_table("staff_member")
    op.drop_index("ix_patient_name", table_name="patient")
    op.drop_table("patient")
    op.drop_index("ix_closure_span", table_name="closure")
    op.drop_table("closure")
    op.drop_table("app_user")
    op.drop_table("session_type")
    op.drop_table("resource")
    op.drop_table("protocol")
    op.drop_table("clinic_setting")
    op.drop_table("change_counter")
