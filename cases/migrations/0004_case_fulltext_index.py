"""A GIN index for the API's `q` filter: Russian full text over summary + description.

PostgreSQL only (SQLite has no to_tsvector; the API falls back to icontains there), so it is
created by RunPython guarded by the vendor rather than declared in Case.Meta.indexes.
The expression must stay identical to what
SearchVector("summary", "description", config="russian") compiles to, or the planner
will not use the index (tests/api/test_case_list.py checks the plan).
CONCURRENTLY: building it on millions of rows must not block intake, hence atomic = False.
"""

from django.db import migrations

INDEX = "case_fulltext_ru_idx"
EXPRESSION = (
    "to_tsvector('russian'::regconfig, "
    "COALESCE(\"summary\", '') || ' ' || COALESCE(\"description\", ''))"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON cases_case USING gin ({EXPRESSION})"
    )
    # Statistics for the new expression: without them the planner guesses that a rare word
    # matches 0.5% of the rows and walks the date index over all of them (54 s on a million
    # cases, 8 ms with the statistics and this index).
    schema_editor.execute("ANALYZE cases_case")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0003_staff_profile_and_idempotency_key"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
