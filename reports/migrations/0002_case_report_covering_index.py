"""A covering index for the reports: the period's cases are read by an index-only scan
(created_at plus every column a report aggregates), never from the 300-byte heap rows.

Declared here with SQL rather than on cases.Case so the reports keep their own index;
PostgreSQL only (INCLUDE); SQLite gets a plain index on created_at."""

from django.db import migrations

COLUMNS = (
    "id, channel, category_id, assignee_id, subscriber_id, code_disclosed, money_lost, "
    "money_amount, outcome, due_at, first_action_at, resolved_at"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS report_case_period_idx "
            f"ON cases_case (created_at) INCLUDE ({COLUMNS})"
        )
    else:
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS report_case_period_idx ON cases_case (created_at)"
        )


def drop(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS report_case_period_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_export_job"),
        ("cases", "0003_staff_profile_and_idempotency_key"),
    ]

    operations = [migrations.RunPython(create, drop)]
