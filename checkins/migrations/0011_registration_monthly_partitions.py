"""PostgreSQL: registrations partitioned by month, for the day list and the 7-year retention.

`checkins_registration` becomes a table PARTITION BY RANGE (recorded_at) with one partition per
month of Brussels time, `checkins_registration_pYYYYMM` (a local day lies in one partition).
The old table is renamed, the new one created with the same columns, defaults, checks, foreign
keys and indexes (declared on the parent, they cascade to every partition), its rows copied as
they are (no trigger of the new table exists yet: nothing is re-dated or re-chained), the old
table dropped, and the triggers of 0002, 0005, 0006/0009 created on the parent (row triggers
are cloned to every partition, now and later). The primary key becomes (id, recorded_at); the
model keeps `id` as its pk and the ids go on from the old sequence.

A unique constraint on a partitioned table must contain the partition key, so the global
"one registration per (key_scope, idempotency_key)" lives in `checkins_registrationkey`,
filled by an insert trigger running as the owner: a second use of a key is still a unique
violation (IntegrityError) of the same statement. Lookups by key go through it, to one
partition; so do lookups by id alone (it holds each registration's recorded_at).

`checkins_firstregistration` holds, per worker, a time no registration of theirs is older
than, and the same for their registrations at an address (kept by the same trigger, moved
forward by the retention): the worker's pages look in a
window of recent months first and, only when it is short, in the older months that hold the
worker's history (checkins/partitions.py), never in every month.

Functions made here (docs/security.md):
- `clao_ensure_registration_partitions(from_month, months_ahead)`: creates the missing months
  from `from_month` through the current month + `months_ahead` (owner only: `migrate`,
  `manage.py ensurepartitions`, history loaders); each partition gets the no-TRUNCATE trigger
  (statement triggers are not cloned to partitions).
- `clao_expired_partitions(before)`: the partitions a purge before that day would drop.
- `clao_drop_expired_partitions(before)`: SECURITY DEFINER, executable by `clao_retention`
  only (clao/dbroles.py): drops the months entirely before `before` and before now() - 7
  years (a floor no caller can move), recording each worker's chain cut first.

SQLite (the embedded demo) keeps a plain table: every step below is PostgreSQL only.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


ZONE = settings.TIME_ZONE
# The floor of the retention, written into the function: no argument can move it.
RETENTION_FLOOR = "7 years"
MONTHS_AHEAD = 12
# The window of the latest record in force, as checkins.partitions.recent_since and horizon.
RECENT = "7 days"
MARGIN = "1 hour"

ENSURE = """
CREATE OR REPLACE FUNCTION clao_ensure_registration_partitions(from_month date, months_ahead int)
RETURNS integer LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    month date := date_trunc('month', from_month)::date;
    last_month date := (date_trunc('month', now() AT TIME ZONE '%(zone)s')
                        + make_interval(months => months_ahead))::date;
    partition text;
    created integer := 0;
BEGIN
    -- One caller at a time (the daily job, a history loader, migrate).
    PERFORM pg_advisory_xact_lock(hashtext('clao_ensure_registration_partitions'));
    WHILE month <= last_month LOOP
        partition := 'checkins_registration_p' || to_char(month, 'YYYYMM');
        IF to_regclass(partition) IS NULL THEN
            -- Created apart, then attached: ATTACH takes a lock that lets reads and inserts
            -- of the other months go on (CREATE ... PARTITION OF would block them).
            EXECUTE format(
                'CREATE TABLE %%I (LIKE checkins_registration INCLUDING DEFAULTS '
                'INCLUDING CONSTRAINTS)', partition);
            EXECUTE format(
                'ALTER TABLE checkins_registration ATTACH PARTITION %%I '
                'FOR VALUES FROM (%%L) TO (%%L)', partition,
                month::timestamp AT TIME ZONE '%(zone)s',
                (month + interval '1 month')::timestamp AT TIME ZONE '%(zone)s');
            EXECUTE format(
                'CREATE TRIGGER checkins_registration_no_truncate BEFORE TRUNCATE ON %%I '
                'FOR EACH STATEMENT EXECUTE FUNCTION checkins_registration_append_only()',
                partition);
            created := created + 1;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;
REVOKE ALL ON FUNCTION clao_ensure_registration_partitions(date, int) FROM PUBLIC;

CREATE OR REPLACE FUNCTION clao_registration_partitions()
RETURNS TABLE (partition text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT c.relname::text,
           substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \\(''([^'']+)''\\)')::timestamptz,
           substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'checkins_registration'::regclass
    ORDER BY 2
$$;

CREATE OR REPLACE FUNCTION clao_expired_partitions(before date)
RETURNS TABLE (partition text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT * FROM clao_registration_partitions() p
    WHERE p.upper_bound <= before::timestamp AT TIME ZONE '%(zone)s'
      AND p.upper_bound <= now() - interval '%(floor)s'
    ORDER BY p.lower_bound
$$;

CREATE OR REPLACE FUNCTION clao_drop_expired_partitions(before date)
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    p record;
BEGIN
    IF before::timestamp AT TIME ZONE '%(zone)s' > now() - interval '%(floor)s' THEN
        RAISE EXCEPTION 'registrations are kept %(floor)s: nothing from %% on may be dropped',
            before USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR p IN SELECT * FROM clao_expired_partitions(before) LOOP
        -- Where each worker's chain now starts: the hash of their last registration dropped
        -- (in the order they were stored), so verifyregistrations still checks the first one
        -- kept (checkins/chain.py).
        EXECUTE format(
            'INSERT INTO checkins_chaincut (worker_id, hash, dropped_before) '
            'SELECT DISTINCT ON (worker_id) worker_id, chain_hash, %%L::timestamptz '
            'FROM %%I ORDER BY worker_id, id DESC '
            'ON CONFLICT (worker_id) DO UPDATE SET hash = EXCLUDED.hash, '
            'dropped_before = EXCLUDED.dropped_before', p.upper_bound, p.partition);
        EXECUTE format(
            'DELETE FROM checkins_registrationkey k USING %%I r '
            'WHERE k.registration_id = r.id', p.partition);
        -- Nothing of theirs is older than the month kept first now.
        UPDATE checkins_firstregistration SET recorded_at = p.upper_bound,
            first_address_at = GREATEST(first_address_at, p.upper_bound)
            WHERE recorded_at < p.upper_bound;
        EXECUTE format('ALTER TABLE checkins_registration DETACH PARTITION %%I', p.partition);
        EXECUTE format('DROP TABLE %%I', p.partition);
        RETURN NEXT p.partition;
    END LOOP;
END;
$$;
REVOKE ALL ON FUNCTION clao_drop_expired_partitions(date) FROM PUBLIC;
""" % {"zone": ZONE, "floor": RETENTION_FLOOR}

# The global idempotency key and the worker's first registration, written as the owner (the
# application may only read them).
KEY_TRIGGER = """
CREATE OR REPLACE FUNCTION checkins_registration_key() RETURNS trigger AS $$
BEGIN
    INSERT INTO checkins_registrationkey (key_scope, idempotency_key, registration_id, recorded_at)
        VALUES (NEW.key_scope, NEW.idempotency_key, NEW.id, NEW.recorded_at);
    -- Written only when this one is older (history loaded later) or the first at an address:
    -- a live insert only reads. (LEAST ignores a NULL.)
    IF NOT EXISTS (
        SELECT 1 FROM checkins_firstregistration
        WHERE worker_id = NEW.worker_id AND recorded_at <= NEW.recorded_at
          AND (NEW.postal_code = '' OR first_address_at <= NEW.recorded_at)
    ) THEN
        INSERT INTO checkins_firstregistration (worker_id, recorded_at, first_address_at)
            VALUES (NEW.worker_id, NEW.recorded_at,
                    CASE WHEN NEW.postal_code <> '' THEN NEW.recorded_at END)
            ON CONFLICT (worker_id) DO UPDATE SET
                recorded_at = LEAST(checkins_firstregistration.recorded_at, EXCLUDED.recorded_at),
                first_address_at = LEAST(checkins_firstregistration.first_address_at,
                                         EXCLUDED.first_address_at);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT;
REVOKE ALL ON FUNCTION checkins_registration_key() FROM PUBLIC;
"""

TRIGGERS = """
CREATE TRIGGER checkins_registration_append_only
    BEFORE UPDATE OR DELETE ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_append_only();
CREATE TRIGGER checkins_registration_no_truncate
    BEFORE TRUNCATE ON checkins_registration
    FOR EACH STATEMENT EXECUTE FUNCTION checkins_registration_append_only();
CREATE TRIGGER checkins_registration_10_clock
    BEFORE INSERT ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_clock();
CREATE TRIGGER checkins_registration_20_chain
    BEFORE INSERT ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_chain();
CREATE TRIGGER checkins_registration_30_key
    BEFORE INSERT ON checkins_registration
    FOR EACH ROW EXECUTE FUNCTION checkins_registration_key();
"""

# register()'s lock and read (0004, 0008), through the key table and bounded in time: the key's
# registration is read in its own partition, the latest record in force by
# clao_worker_latest_in_force.
LOCK_AND_READ = """
CREATE OR REPLACE FUNCTION clao_lock_worker_and_read(p_worker bigint, p_scope text, p_key text)
RETURNS SETOF checkins_registration
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k record;
BEGIN
    PERFORM 1 FROM accounts_person WHERE id = p_worker FOR UPDATE;
    SELECT registration_id, recorded_at INTO k FROM checkins_registrationkey
        WHERE key_scope = p_scope AND idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT * FROM checkins_registration
            WHERE id = k.registration_id AND recorded_at = k.recorded_at;
    END IF;
    RETURN QUERY SELECT * FROM clao_worker_latest_in_force(p_worker);
END;
$$;
"""

# The worker's latest record in force (the lock-and-read, register_many): looked for from the
# month of a week ago (checkins.partitions.recent_since) to the month after now (horizon); only
# if none is there, in the year before, then in the rest of the worker's history (from their
# first registration): never in every month. The answer is the one of the whole table:
# anything outside a window is older.
WORKER_LATEST_IN_FORCE = """
CREATE OR REPLACE FUNCTION clao_worker_latest_in_force(p_worker bigint)
RETURNS SETOF checkins_registration
LANGUAGE plpgsql STABLE AS $$
DECLARE
    local_now timestamp := now() AT TIME ZONE '%(zone)s';
    since timestamptz := date_trunc('month', local_now - interval '%(recent)s')
        AT TIME ZONE '%(zone)s';
    horizon timestamptz := (date_trunc('month', local_now + interval '%(margin)s')
        + interval '1 month') AT TIME ZONE '%(zone)s';
    year_before timestamptz;
    first timestamptz;
BEGIN
    RETURN QUERY SELECT * FROM clao_latest_in_force(p_worker, since, horizon, horizon);
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT recorded_at INTO first FROM checkins_firstregistration WHERE worker_id = p_worker;
    IF first IS NULL OR first >= since THEN
        RETURN;
    END IF;
    year_before := GREATEST(first, date_trunc('month', (since AT TIME ZONE '%(zone)s')
        - interval '335 days') AT TIME ZONE '%(zone)s');
    RETURN QUERY SELECT * FROM clao_latest_in_force(p_worker, year_before, since, horizon);
    IF NOT FOUND AND first < year_before THEN
        RETURN QUERY SELECT * FROM clao_latest_in_force(p_worker, first, year_before, horizon);
    END IF;
END;
$$;
"""

# The worker's latest record in force stored in [p_since, p_until) (the rule of `in_force()`):
# a correction is not one, nor a registration that a cancellation refers to. A cancellation is
# stored after what it cancels, so it lies in [p_since, p_horizon). Planned at each call with
# the bounds' values (force_custom_plan: 0.4 ms): only their months are planned, and the plan
# walks the worker's index. A generic plan would be cached but chosen blind to the values: it
# walked the month's time index, every worker's rows.
LATEST_IN_FORCE = """
CREATE OR REPLACE FUNCTION clao_latest_in_force(
    p_worker bigint, p_since timestamptz, p_until timestamptz, p_horizon timestamptz
)
RETURNS SETOF checkins_registration
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    RETURN QUERY
        SELECT * FROM checkins_registration r
        WHERE r.worker_id = p_worker AND r.corrects_id IS NULL
          AND r.recorded_at >= p_since AND r.recorded_at < p_until
          AND NOT EXISTS (
              SELECT 1 FROM checkins_registration c
              WHERE c.corrects_id = r.id AND c.correction_kind = 'cancel'
                AND c.recorded_at >= p_since AND c.recorded_at < p_horizon)
        ORDER BY r.recorded_at DESC, r.id DESC
        LIMIT 1;
END;
$$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS clao_lock_worker_and_read(bigint, text, text);
DROP FUNCTION IF EXISTS clao_worker_latest_in_force(bigint);
DROP FUNCTION IF EXISTS clao_latest_in_force(bigint, timestamptz, timestamptz, timestamptz);
"""

CONVERT = """
-- Free the index names for the new table (they are schema-wide), keep their definitions.
CREATE TEMP TABLE clao_registration_indexes ON COMMIT DROP AS
    SELECT pg_get_indexdef(i.indexrelid) AS definition, c.relname AS name
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'checkins_registration'::regclass
      AND NOT i.indisprimary AND NOT i.indisunique;
CREATE TEMP TABLE clao_registration_foreign_keys ON COMMIT DROP AS
    SELECT conname AS name, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint
    WHERE conrelid = 'checkins_registration'::regclass AND contype = 'f';
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT name FROM clao_registration_indexes LOOP
        EXECUTE format('DROP INDEX %%I', r.name);
    END LOOP;
END;
$$;
ALTER TABLE checkins_registration RENAME TO checkins_registration_old;
ALTER TABLE checkins_registration_old
    RENAME CONSTRAINT checkins_registration_pkey TO checkins_registration_old_pkey;

CREATE TABLE checkins_registration (
    LIKE checkins_registration_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY
) PARTITION BY RANGE (recorded_at);
ALTER TABLE checkins_registration
    ADD CONSTRAINT checkins_registration_pkey PRIMARY KEY (id, recorded_at);
-- The ids go on where the old table's sequence was.
SELECT setval(pg_get_serial_sequence('checkins_registration', 'id'),
              (SELECT last_value FROM checkins_registration_old_id_seq),
              (SELECT is_called FROM checkins_registration_old_id_seq));

-- Every month with registrations, through 12 months ahead.
SELECT clao_ensure_registration_partitions(
    LEAST(
        (SELECT min(recorded_at) AT TIME ZONE '%(zone)s' FROM checkins_registration_old),
        now() AT TIME ZONE '%(zone)s')::date,
    %(months_ahead)s);

INSERT INTO checkins_registration SELECT * FROM checkins_registration_old;
INSERT INTO checkins_registrationkey (key_scope, idempotency_key, registration_id, recorded_at)
    SELECT key_scope, idempotency_key, id, recorded_at FROM checkins_registration_old;
INSERT INTO checkins_firstregistration (worker_id, recorded_at, first_address_at)
    SELECT worker_id, min(recorded_at), min(recorded_at) FILTER (WHERE postal_code <> '')
    FROM checkins_registration_old GROUP BY worker_id;

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT definition FROM clao_registration_indexes LOOP
        EXECUTE r.definition;
    END LOOP;
    FOR r IN SELECT name, definition FROM clao_registration_foreign_keys LOOP
        EXECUTE format('ALTER TABLE checkins_registration ADD CONSTRAINT %%I %%s',
                       r.name, r.definition);
    END LOOP;
END;
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The identity sequence keeps its name when its table is renamed: free it for the new
    # table's (CONVERT sets that one to where the old one was).
    schema_editor.execute(
        "ALTER SEQUENCE checkins_registration_id_seq RENAME TO checkins_registration_old_id_seq",
        params=None,
    )
    schema_editor.execute(DROP_FUNCTIONS, params=None)
    schema_editor.execute(ENSURE, params=None)
    schema_editor.execute(CONVERT % {"zone": ZONE, "months_ahead": MONTHS_AHEAD}, params=None)
    schema_editor.execute("DROP TABLE checkins_registration_old", params=None)
    schema_editor.execute(KEY_TRIGGER + TRIGGERS, params=None)
    windows = {"zone": ZONE, "recent": RECENT, "margin": MARGIN}
    schema_editor.execute(
        LATEST_IN_FORCE + WORKER_LATEST_IN_FORCE % windows + LOCK_AND_READ, params=None
    )


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("checkins", "0010_registration_fewer_indexes_chain_field_inlined"),
    ]

    operations = [
        migrations.CreateModel(
            name="RegistrationKey",
            fields=[
                ("pk", models.CompositePrimaryKey("key_scope", "idempotency_key", blank=True, editable=False, primary_key=True, serialize=False)),
                ("key_scope", models.CharField(max_length=40, verbose_name="key scope")),
                ("idempotency_key", models.CharField(max_length=100, verbose_name="submission key")),
                ("registration_id", models.BigIntegerField(verbose_name="registration")),
                ("recorded_at", models.DateTimeField(verbose_name="date and time")),
            ],
            options={
                "verbose_name": "idempotency key",
                "verbose_name_plural": "idempotency keys",
                "indexes": [models.Index(fields=["registration_id"], name="registrationkey_registration")],
            },
        ),
        migrations.CreateModel(
            name="FirstRegistration",
            fields=[
                ("worker", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name="+", serialize=False, to=settings.AUTH_USER_MODEL, verbose_name="worker")),
                ("recorded_at", models.DateTimeField(verbose_name="date and time")),
                ("first_address_at", models.DateTimeField(null=True, verbose_name="first at an address")),
            ],
            options={
                "verbose_name": "first registration",
                "verbose_name_plural": "first registrations",
            },
        ),
        migrations.CreateModel(
            name="ChainCut",
            fields=[
                ("worker", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name="+", serialize=False, to=settings.AUTH_USER_MODEL, verbose_name="worker")),
                ("hash", models.CharField(max_length=64, verbose_name="registration hash")),
                ("dropped_before", models.DateTimeField(verbose_name="dropped before")),
            ],
            options={
                "verbose_name": "chain cut",
                "verbose_name_plural": "chain cuts",
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
