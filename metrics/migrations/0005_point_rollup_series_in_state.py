"""Django's state catches up with the points and rollups tables: their series_id columns come from migration 0002's
SQL already, so these fields are added to the state only (no SQL runs)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("metrics", "0004_points_rollups_in_django_state")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="point",
                    name="series",
                    field=models.ForeignKey(
                        db_constraint=False,
                        default=None,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        to="metrics.series",
                    ),
                    preserve_default=False,
                ),
                migrations.AddField(
                    model_name="rollup",
                    name="series",
                    field=models.ForeignKey(
                        db_constraint=False,
                        default=None,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="metrics.series",
                    ),
                    preserve_default=False,
                ),
            ],
            database_operations=[],
        )
    ]
