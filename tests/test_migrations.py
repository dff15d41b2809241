"""The migrations describe the models: nothing is left for makemigrations to write (it reads the applied
migrations, hence the database)."""

import io

from django.core.management import call_command


def test_no_model_change_lacks_a_migration(db):
    out = io.StringIO()
    # --check exits non-zero (SystemExit) when a migration is missing; the output names it.
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        raise AssertionError(f"models and migrations differ:\n{out.getvalue()}") from None
    assert "No changes detected" in out.getvalue()
