"""The keys reported since the last count of the waves (intel.services.waves_detect), by
time. CONCURRENTLY on PostgreSQL: a sighting is written with every case, and building the
index must not block intake, hence atomic = False; a plain CREATE INDEX elsewhere."""

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
        ("intel", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="sighting",
            index=models.Index(fields=["seen_at"], name="sighting_seen_idx"),
        ),
    ]
