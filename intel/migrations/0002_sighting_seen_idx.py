"""The keys reported since the last count of the waves (intel.services.waves_detect), by
time. CONCURRENTLY on PostgreSQL: a sighting is written with every case, and building the
index must not block intake, hence atomic = False; a plain CREATE INDEX elsewhere."""

from django.db import migrations, models

from fraudcenter.migration_operations import AddIndexConcurrentlyOnPostgres


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
