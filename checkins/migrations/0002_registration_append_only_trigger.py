"""On PostgreSQL, the database itself refuses to change or remove a registration (a legal record)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION checkins_registration_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'registrations are append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER checkins_registration_append_only
    BEFORE UPDATE OR DELETE ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS checkins_registration_append_only ON checkins_registration;
DROP FUNCTION IF EXISTS checkins_registration_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("checkins", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
