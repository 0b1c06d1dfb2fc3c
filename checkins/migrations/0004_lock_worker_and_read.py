"""On PostgreSQL, one round trip for register()'s lock and read (issue 12: the check-in's queries).

`clao_lock_worker_and_read(worker, scope, key)` takes the row lock on the person (the lock that
serialises one worker's writes), then reads the registration already stored under the key and
the worker's latest one. Each statement of a VOLATILE plpgsql function takes a fresh snapshot in
READ COMMITTED, so the read sees everything committed by the previous holder of the lock. Doing
both in one plain SELECT would not: its snapshot would predate the wait for the lock.

It returns rows of checkins_registration: a migration that rebuilds that table (partitioning)
must drop and recreate this function after it (CREATE below is idempotent).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION clao_lock_worker_and_read(p_worker bigint, p_scope text, p_key text)
RETURNS SETOF checkins_registration
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM accounts_person WHERE id = p_worker FOR UPDATE;
    RETURN QUERY
        SELECT * FROM checkins_registration
        WHERE key_scope = p_scope AND idempotency_key = p_key
        UNION ALL
        (SELECT * FROM checkins_registration
         WHERE worker_id = p_worker
         ORDER BY recorded_at DESC, id DESC
         LIMIT 1);
END;
$$;
"""
DROP = "DROP FUNCTION IF EXISTS clao_lock_worker_and_read(bigint, text, text);"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("checkins", "0003_registration_idempotency_scope_acted_by")]
    operations = [migrations.RunPython(forwards, backwards)]
