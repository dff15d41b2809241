from django.db import migrations


def seed(apps, schema_editor):
    from metrics.catalogue import DEFAULT_METRICS

    Metric = apps.get_model("metrics", "Metric")
    for key, name, unit, kind, better, description in DEFAULT_METRICS:
        Metric.objects.get_or_create(
            key=key, defaults={"name": name, "unit": unit, "kind": kind, "better": better, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("metrics", "0002_points_and_rollups_tables")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
