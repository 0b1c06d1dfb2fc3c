"""The chain's second version covers what badge readers and corrections added (checkins/chain.py).

A registration with a device, a swipe time or a correction is hashed as `clao-registration-v2`:
the v1 fields, then device, swiped_at, corrects, correction_kind and correction_reason. Any
other is still hashed as v1, so every hash already stored stays valid and nothing is rewritten;
adding or removing one of the new values afterwards changes the version, hence the hash.
"""

from django.db import migrations

V1_FIELDS = """
    || checkins_chain_field('previous', previous)
    || checkins_chain_field('worker', NEW.worker_id::text)
    || checkins_chain_field('kind', NEW.kind)
    || checkins_chain_field('recorded_at',
        to_char(NEW.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    || checkins_chain_field('enterprise_number', NEW.enterprise_number)
    || checkins_chain_field('employer', NEW.employer_id::text)
    || checkins_chain_field('employer_name', NEW.employer_name)
    || checkins_chain_field('ddt_number', NEW.ddt_number)
    || checkins_chain_field('latitude', NEW.latitude::text)
    || checkins_chain_field('longitude', NEW.longitude::text)
    || checkins_chain_field('accuracy_m', NEW.accuracy_m::text)
    || checkins_chain_field('postal_code', NEW.postal_code)
    || checkins_chain_field('municipality', NEW.municipality)
    || checkins_chain_field('street', NEW.street)
    || checkins_chain_field('house_number', NEW.house_number)
    || checkins_chain_field('box', NEW.box)
    || checkins_chain_field('source', NEW.source)
    || checkins_chain_field('key_scope', NEW.key_scope)
    || checkins_chain_field('idempotency_key', NEW.idempotency_key)
    || checkins_chain_field('acted_by', NEW.acted_by_id::text)
    || checkins_chain_field('reason', NEW.reason)
"""
V2_FIELDS = """
    || checkins_chain_field('device', NEW.device_id::text)
    || checkins_chain_field('swiped_at',
        to_char(NEW.swiped_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    || checkins_chain_field('corrects', NEW.corrects_id::text)
    || checkins_chain_field('correction_kind', NEW.correction_kind)
    || checkins_chain_field('correction_reason', NEW.correction_reason)
"""
IS_V1 = """NEW.device_id IS NULL AND NEW.swiped_at IS NULL AND NEW.corrects_id IS NULL
        AND NEW.correction_kind = '' AND NEW.correction_reason = ''"""

FUNCTION = """
CREATE OR REPLACE FUNCTION checkins_registration_chain() RETURNS trigger AS $$
DECLARE
    previous text;
    canonical text;
BEGIN
    -- The head row is the worker's lock for the chain (register() also locks the person).
    INSERT INTO checkins_registrationchainhead (worker_id, head_hash, head_id)
        VALUES (NEW.worker_id, '', 0) ON CONFLICT (worker_id) DO NOTHING;
    SELECT head_hash INTO previous FROM checkins_registrationchainhead
        WHERE worker_id = NEW.worker_id FOR UPDATE;
    NEW.chain_previous := previous;
    IF %(is_v1)s THEN
        canonical := 'clao-registration-v1' || E'\\n' %(v1)s;
    ELSE
        canonical := 'clao-registration-v2' || E'\\n' %(v1)s %(v2)s;
    END IF;
    NEW.chain_hash := encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
    UPDATE checkins_registrationchainhead SET head_hash = NEW.chain_hash, head_id = NEW.id
        WHERE worker_id = NEW.worker_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET extra_float_digits = 1;
REVOKE ALL ON FUNCTION checkins_registration_chain() FROM PUBLIC;
"""

V2 = FUNCTION % {"is_v1": IS_V1, "v1": V1_FIELDS, "v2": V2_FIELDS}
V1_ONLY = FUNCTION % {"is_v1": "TRUE", "v1": V1_FIELDS, "v2": ""}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(V2, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(V1_ONLY, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("checkins", "0008_registration_corrections_and_search_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
