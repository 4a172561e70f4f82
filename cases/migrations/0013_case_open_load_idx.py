"""Each specialist's load from a partial index of open assigned cases (cases.selectors.
staff_load). CONCURRENTLY on PostgreSQL: building it on millions of rows must not block
intake, hence atomic = False; a plain CREATE INDEX elsewhere."""

from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            kwargs = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
            schema_editor.add_index(model, self.index, **kwargs)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            kwargs = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
            schema_editor.remove_index(model, self.index, **kwargs)


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
