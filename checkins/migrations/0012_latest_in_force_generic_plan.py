"""The latest record in force read through a cached plan instead of one planned at every call.

0011's `clao_latest_in_force` was planned at each call with its bounds' values (0.4 ms of the
database's CPU for every check-in and every worker of a badge reader's batch): a generic plan of
its query, blind to the values, could walk the month's time index (every worker's rows) for the
ORDER BY ... LIMIT 1. Here the order comes from an expression that no index gives, so the only
cheap path left is the worker's index, whatever the values; each candidate is then checked for
a cancellation in the months after it only. With its plan cached (run-time pruning keeps only
the months of the bounds), a call costs its execution. Same results: tests/test_partitions.py
compares them with the unbounded query.
"""

import importlib

from django.db import migrations

LATEST_IN_FORCE = """
CREATE OR REPLACE FUNCTION clao_latest_in_force(
    p_worker bigint, p_since timestamptz, p_until timestamptz, p_horizon timestamptz
)
RETURNS SETOF checkins_registration
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    candidate checkins_registration%ROWTYPE;
BEGIN
    -- Newest first; "+ interval '0'" keeps the order and leaves no index that gives it.
    FOR candidate IN
        SELECT * FROM checkins_registration r
        WHERE r.worker_id = p_worker AND r.corrects_id IS NULL
          AND r.recorded_at >= p_since AND r.recorded_at < p_until
        ORDER BY r.recorded_at + interval '0' DESC, r.id DESC
    LOOP
        -- A cancellation is stored after what it cancels.
        PERFORM 1 FROM checkins_registration c
        WHERE c.corrects_id = candidate.id AND c.correction_kind = 'cancel'
          AND c.recorded_at >= candidate.recorded_at AND c.recorded_at < p_horizon;
        IF NOT FOUND THEN
            RETURN NEXT candidate;
            RETURN;
        END IF;
    END LOOP;
END;
$$;
"""


def _run(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql, None)  # no parameters: "%ROWTYPE" is not a placeholder


def forwards(apps, schema_editor) -> None:
    _run(schema_editor, LATEST_IN_FORCE)


def backwards(apps, schema_editor) -> None:
    previous = importlib.import_module("checkins.migrations.0011_registration_monthly_partitions")
    _run(schema_editor, previous.LATEST_IN_FORCE)


class Migration(migrations.Migration):
    dependencies = [("checkins", "0011_registration_monthly_partitions")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
