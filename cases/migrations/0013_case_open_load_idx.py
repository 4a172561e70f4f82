"""Each specialist's load from a partial index of open assigned cases (cases.selectors.
staff_load). CONCURRENTLY on PostgreSQL: building it on millions of rows must not block
intake, hence atomic = False; a plain CREATE INDEX elsewhere."""

from django.db import migrations, models

from fraudcenter.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0012_identifier_kind_reporters_idx"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="case",
            index=models.Index(
                condition=models.Q(
                    ("assignee__isnull", False), ("status__in", ["new", "in_progress", "waiting"])
                ),
                fields=["assignee", "due_at"],
                name="case_open_load_idx",
            ),
        ),
    ]
