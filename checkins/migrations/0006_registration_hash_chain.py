"""The tamper-evident chain of each worker's registrations (checkins/chain.py).

On PostgreSQL a BEFORE INSERT trigger, named to run after the clock's, links each new
registration to the worker's chain head and computes its hash; it runs as the owner (SECURITY
DEFINER) because the application's role may not write the chain heads. Rows stored before this
migration are chained here, in the order they were stored, with the append-only trigger off
for that one update (the migration runs as the owner).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# The canonical text of checkins/chain.py, field by field (keep both in step: tests compare).
CANONICAL = """
    'clao-registration-v1' || E'\\n'
    || checkins_chain_field('previous', {previous})
    || checkins_chain_field('worker', {row}.worker_id::text)
    || checkins_chain_field('kind', {row}.kind)
    || checkins_chain_field('recorded_at',
        to_char({row}.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    || checkins_chain_field('enterprise_number', {row}.enterprise_number)
    || checkins_chain_field('employer', {row}.employer_id::text)
    || checkins_chain_field('employer_name', {row}.employer_name)
    || checkins_chain_field('ddt_number', {row}.ddt_number)
    || checkins_chain_field('latitude', {row}.latitude::text)
    || checkins_chain_field('longitude', {row}.longitude::text)
    || checkins_chain_field('accuracy_m', {row}.accuracy_m::text)
    || checkins_chain_field('postal_code', {row}.postal_code)
    || checkins_chain_field('municipality', {row}.municipality)
    || checkins_chain_field('street', {row}.street)
    || checkins_chain_field('house_number', {row}.house_number)
    || checkins_chain_field('box', {row}.box)
    || checkins_chain_field('source', {row}.source)
    || checkins_chain_field('key_scope', {row}.key_scope)
    || checkins_chain_field('idempotency_key', {row}.idempotency_key)
    || checkins_chain_field('acted_by', {row}.acted_by_id::text)
    || checkins_chain_field('reason', {row}.reason)
"""

CREATE = """
CREATE OR REPLACE FUNCTION checkins_chain_field(name text, value text) RETURNS text AS $$
    SELECT name || '=' || CASE WHEN value IS NULL THEN '-' ELSE length(value) || ':' || value END
        || E'\\n'
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION checkins_registration_chain() RETURNS trigger AS $$
DECLARE
    previous text;
BEGIN
    -- The head row is the worker's lock for the chain (register() also locks the person).
    INSERT INTO checkins_registrationchainhead (worker_id, head_hash, head_id)
        VALUES (NEW.worker_id, '', 0) ON CONFLICT (worker_id) DO NOTHING;
    SELECT head_hash INTO previous FROM checkins_registrationchainhead
        WHERE worker_id = NEW.worker_id FOR UPDATE;
    NEW.chain_previous := previous;
    NEW.chain_hash := encode(sha256(convert_to(%(canonical)s, 'UTF8')), 'hex');
    UPDATE checkins_registrationchainhead SET head_hash = NEW.chain_hash, head_id = NEW.id
        WHERE worker_id = NEW.worker_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET extra_float_digits = 1;
REVOKE ALL ON FUNCTION checkins_registration_chain() FROM PUBLIC;

CREATE TRIGGER checkins_registration_20_chain
    BEFORE INSERT ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_chain();
""" % {"canonical": CANONICAL.format(previous="previous", row="NEW")}

# Existing rows, in the order they were stored.
BACKFILL = """
SET LOCAL extra_float_digits = 1;
ALTER TABLE checkins_registration DISABLE TRIGGER checkins_registration_append_only;
DO $$
DECLARE
    r record;
    previous text := '';
    current_worker bigint := NULL;
    computed text;
BEGIN
    FOR r IN SELECT * FROM checkins_registration ORDER BY worker_id, id LOOP
        IF current_worker IS DISTINCT FROM r.worker_id THEN
            IF current_worker IS NOT NULL THEN
                INSERT INTO checkins_registrationchainhead (worker_id, head_hash, head_id)
                    VALUES (current_worker, previous, (SELECT max(id) FROM checkins_registration
                        WHERE worker_id = current_worker));
            END IF;
            current_worker := r.worker_id;
            previous := '';
        END IF;
        computed := encode(sha256(convert_to(%(canonical)s, 'UTF8')), 'hex');
        UPDATE checkins_registration SET chain_previous = previous, chain_hash = computed
            WHERE id = r.id;
        previous := computed;
    END LOOP;
    IF current_worker IS NOT NULL THEN
        INSERT INTO checkins_registrationchainhead (worker_id, head_hash, head_id)
            VALUES (current_worker, previous, (SELECT max(id) FROM checkins_registration
                WHERE worker_id = current_worker));
    END IF;
END;
$$;
ALTER TABLE checkins_registration ENABLE TRIGGER checkins_registration_append_only;
""" % {"canonical": CANONICAL.format(previous="previous", row="r")}

DROP = """
DROP TRIGGER IF EXISTS checkins_registration_20_chain ON checkins_registration;
DROP FUNCTION IF EXISTS checkins_registration_chain();
DROP FUNCTION IF EXISTS checkins_chain_field(text, text);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL, params=None)
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("checkins", "0005_registration_database_clock_no_truncate"),
    ]

    operations = [
        migrations.CreateModel(
            name="RegistrationChainHead",
            fields=[
                (
                    "worker",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="worker",
                    ),
                ),
                (
                    "head_hash",
                    models.CharField(blank=True, max_length=64, verbose_name="registration hash"),
                ),
                ("head_id", models.BigIntegerField(default=0, verbose_name="registration")),
            ],
            options={
                "verbose_name": "chain head",
                "verbose_name_plural": "chain heads",
            },
        ),
        migrations.AddField(
            model_name="registration",
            name="chain_hash",
            field=models.CharField(
                blank=True,
                db_default="",
                editable=False,
                max_length=64,
                verbose_name="registration hash",
            ),
        ),
        migrations.AddField(
            model_name="registration",
            name="chain_previous",
            field=models.CharField(
                blank=True,
                db_default="",
                editable=False,
                max_length=64,
                verbose_name="previous registration's hash",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
