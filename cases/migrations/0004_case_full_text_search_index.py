"""Full-text search over a case's summary and description (PostgreSQL only).

The expression is exactly what cases.selectors._text_filter() asks for
(SearchVector("summary", "description", config="russian")), so the planner uses the
index. SQLite has no GIN: there the lists fall back to LIKE (development only)."""

from django.db import migrations

EXPRESSION = (
    "to_tsvector('russian'::regconfig, COALESCE(\"summary\", '') || ' ' || "
    "COALESCE(\"description\", ''))"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS case_search_idx ON cases_case USING gin ({EXPRESSION})"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS case_search_idx")


class Migration(migrations.Migration):
    # CONCURRENTLY: building it on a million cases must not block intake.
    atomic = False

    dependencies = [("cases", "0003_staff_profile_and_idempotency_key")]

    operations = [migrations.RunPython(create_index, drop_index)]
