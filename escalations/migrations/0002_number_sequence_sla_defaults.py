from django.db import migrations


def sla_defaults(apps, schema_editor):
    from escalations.constants import SLA_DEFAULTS

    SlaPolicy = apps.get_model("escalations", "SlaPolicy")
    for priority, (acknowledge_within, resolve_within) in SLA_DEFAULTS.items():
        SlaPolicy.objects.get_or_create(
            priority=priority, defaults={"acknowledge_within": acknowledge_within, "resolve_within": resolve_within}
        )


class Migration(migrations.Migration):
    dependencies = [("escalations", "0001_initial")]

    operations = [
        # Ticket numbers (ESC-42): a sequence hands each one out once, also to two clients raising at once.
        migrations.RunSQL(
            "CREATE SEQUENCE escalations_number_seq START 1",
            "DROP SEQUENCE escalations_number_seq",
        ),
        migrations.RunPython(sla_defaults, migrations.RunPython.noop),
    ]
