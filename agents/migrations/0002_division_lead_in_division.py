from django.db import migrations


class Migration(migrations.Migration):
    """A division's lead must be one of its own agents.

    Django has no composite foreign keys, so this one is plain SQL: (lead_id, id) must match an agent's
    (id, division_id). Deferred, so a seed can create agents and name the lead in one transaction; it also
    stops an agent who leads a division from being moved out of it.
    """

    dependencies = [("agents", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql="""
                ALTER TABLE agents_division
                ADD CONSTRAINT division_lead_in_division
                FOREIGN KEY (lead_id, id) REFERENCES agents_agent (id, division_id)
                DEFERRABLE INITIALLY DEFERRED
            """,
            reverse_sql="ALTER TABLE agents_division DROP CONSTRAINT division_lead_in_division",
        )
    ]
