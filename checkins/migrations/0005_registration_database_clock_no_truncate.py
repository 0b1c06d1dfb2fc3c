"""PostgreSQL: TRUNCATE of registrations refused; recorded_at from the database's clock.

- A statement trigger refuses TRUNCATE (the row trigger of 0002 already refuses UPDATE and
  DELETE). The application's role has no TRUNCATE, UPDATE or DELETE privilege either
  (clao/dbroles.py): the triggers stop the owner's mistakes, the privileges the application.
- recorded_at defaults to the INSERT statement's time (statement_timestamp()), which register()
  sends after it holds the worker's lock, so one worker's registrations are dated in the order
  they were stored (the transaction's start could date a row that waited for the lock before
  the one it waited for). The application's role may not insert that column at all (column
  privileges, clao/dbroles.py); as a second wall, a trigger refuses any other value from a
  role without the owner's privileges. Only the owner loads history (docs/security.md). The
  value is never changed by the trigger: with registrations partitioned by month, a row may not
  move to another partition once routed.
"""

import django.db.models.functions.datetime
from django.db import migrations, models

CREATE = """
CREATE TRIGGER checkins_registration_no_truncate
    BEFORE TRUNCATE ON checkins_registration
    FOR EACH STATEMENT EXECUTE FUNCTION checkins_registration_append_only();

CREATE OR REPLACE FUNCTION checkins_registration_clock() RETURNS trigger AS $$
BEGIN
    IF NEW.recorded_at IS DISTINCT FROM statement_timestamp() AND NOT pg_has_role(
        current_user,
        (SELECT relowner FROM pg_class WHERE oid = 'checkins_registration'::regclass),
        'USAGE'
    ) THEN
        RAISE EXCEPTION 'recorded_at is set by the database (only the owner loads history)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SET search_path FROM CURRENT;
CREATE TRIGGER checkins_registration_10_clock
    BEFORE INSERT ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_clock();
"""
DROP = """
DROP TRIGGER IF EXISTS checkins_registration_10_clock ON checkins_registration;
DROP FUNCTION IF EXISTS checkins_registration_clock();
DROP TRIGGER IF EXISTS checkins_registration_no_truncate ON checkins_registration;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("checkins", "0004_lock_worker_and_read")]
    operations = [
        migrations.AlterField(
            model_name="registration",
            name="recorded_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                editable=False,
                verbose_name="date and time",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
