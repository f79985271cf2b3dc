"""SQL of migration 0006: the rollups and the ledger learn which cards are simulated.

The traffic simulator's cards (cards.simulated) tap and recharge like any other, so their
trips reach the rollups through the same triggers. These versions of the functions of
rollup_sql (migration 0003) carry the card's `simulated` flag into every rollup row's key,
so analytics leave simulated figures out (or add them when asked for) with a condition on
the key; riders are counted apart the same way. The ledger stays append-only, except that
the simulator's clean-up may delete the entries of simulated cards, and only in a
transaction that says so (travel_recharge.purge_simulated).

Kept apart from rollup_sql so that migration 0003 keeps creating the versions it shipped.
"""

from __future__ import annotations

from travel_recharge.migrations import rollup_sql

# The card of a tap decides: a simulated card's taps are simulated rows (coalesce: a card
# always exists, its foreign key says so, but a NULL must never reach a NOT NULL key).
TRIP_INSERTED = """
CREATE OR REPLACE FUNCTION rollup_delta_trip_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_deltas (event_time, station_id, route_id, service_kind, trips, completed,
        transfers, credit_trips, benefit_trips, revenue, simulated)
    VALUES (NEW.event_time, NEW.station_id, NEW.route_id, NEW.service_kind, 1,
        (NEW.ended_at IS NOT NULL)::int, NEW.is_transfer::int, NEW.credit_used::int,
        NEW.benefit_trip_used::int, NEW.fare_charged,
        coalesce((SELECT c.simulated FROM cards c WHERE c.id = NEW.card_id), false));
    RETURN NULL;
END $$
"""

TRIP_ENDED = """
CREATE OR REPLACE FUNCTION rollup_delta_trip_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_deltas (event_time, station_id, route_id, service_kind, trips, completed,
        transfers, credit_trips, benefit_trips, revenue, simulated)
    VALUES (NEW.event_time, NEW.station_id, NEW.route_id, NEW.service_kind, 0, 1, 0, 0, 0, 0,
        coalesce((SELECT c.simulated FROM cards c WHERE c.id = NEW.card_id), false));
    RETURN NULL;
END $$
"""

# Takes the old row out and puts the new one in, whatever changed: so a change of `active`
# or of `simulated` moves the rider between the counters.
USERS_CHANGED = """
CREATE OR REPLACE FUNCTION rollup_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    real_total bigint := 0;
    real_active bigint := 0;
    sim_total bigint := 0;
    sim_active bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.simulated THEN
            sim_total := sim_total - 1;
            sim_active := sim_active - OLD.active::int;
        ELSE
            real_total := real_total - 1;
            real_active := real_active - OLD.active::int;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.simulated THEN
            sim_total := sim_total + 1;
            sim_active := sim_active + NEW.active::int;
        ELSE
            real_total := real_total + 1;
            real_active := real_active + NEW.active::int;
        END IF;
    END IF;
    UPDATE rollup_users SET total_users = total_users + real_total,
        active_users = active_users + real_active,
        simulated_users = simulated_users + sim_total,
        simulated_active_users = simulated_active_users + sim_active
    WHERE id = 1;
    RETURN NULL;
END $$
"""

USERS_TRIGGER = (
    "CREATE TRIGGER users_rollup AFTER INSERT OR DELETE OR UPDATE OF active, simulated ON users "
    "FOR EACH ROW EXECUTE FUNCTION rollup_users_changed()"
)

APPLY_INPUT = """
CREATE OR REPLACE FUNCTION apply_rollup_input() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tz text := (SELECT timezone FROM analytics_settings WHERE id = 1);
BEGIN
    INSERT INTO rollup_totals AS r (locality_code, service_kind, simulated, trips,
        completed_trips, transfers, credit_trips, benefit_trips, revenue)
    SELECT coalesce(s.locality_code, first_stop.locality_code, '00'), i.service_kind,
        i.simulated, sum(i.trips), sum(i.completed), sum(i.transfers), sum(i.credit_trips),
        sum(i.benefit_trips), sum(i.revenue)
    FROM rollup_input i
    LEFT JOIN stations s ON s.id = i.station_id
    LEFT JOIN LATERAL (
        SELECT st.locality_code FROM route_stops rs JOIN stations st ON st.id = rs.station_id
        WHERE rs.route_id = i.route_id ORDER BY rs.sequence LIMIT 1
    ) first_stop ON i.station_id IS NULL
    GROUP BY 1, 2, 3
    ON CONFLICT (locality_code, service_kind, simulated) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips,
        completed_trips = r.completed_trips + EXCLUDED.completed_trips,
        transfers = r.transfers + EXCLUDED.transfers,
        credit_trips = r.credit_trips + EXCLUDED.credit_trips,
        benefit_trips = r.benefit_trips + EXCLUDED.benefit_trips,
        revenue = r.revenue + EXCLUDED.revenue;

    INSERT INTO rollup_hours AS r (day, hour, service_kind, simulated, trips, transfers,
        credit_trips, benefit_trips, revenue)
    SELECT (i.event_time AT TIME ZONE tz)::date, extract(hour FROM i.event_time AT TIME ZONE tz),
        i.service_kind, i.simulated, sum(i.trips), sum(i.transfers), sum(i.credit_trips),
        sum(i.benefit_trips), sum(i.revenue)
    FROM rollup_input i WHERE i.trips > 0
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, hour, service_kind, simulated) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips,
        transfers = r.transfers + EXCLUDED.transfers,
        credit_trips = r.credit_trips + EXCLUDED.credit_trips,
        benefit_trips = r.benefit_trips + EXCLUDED.benefit_trips,
        revenue = r.revenue + EXCLUDED.revenue;

    INSERT INTO rollup_station_days AS r (day, station_id, simulated, trips, revenue)
    SELECT (i.event_time AT TIME ZONE tz)::date, i.station_id, i.simulated, sum(i.trips),
        sum(i.revenue)
    FROM rollup_input i JOIN stations s ON s.id = i.station_id
    WHERE i.trips > 0 AND s.kind IN ('portal', 'trunk', 'cable')
    GROUP BY 1, 2, 3
    ON CONFLICT (day, station_id, simulated) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips, revenue = r.revenue + EXCLUDED.revenue;
END $$
"""

REBUILD = """
CREATE OR REPLACE FUNCTION rebuild_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('travel_recharge.fold_rollup_deltas'));
    DELETE FROM rollup_deltas;
    DELETE FROM rollup_totals;
    DELETE FROM rollup_hours;
    DELETE FROM rollup_station_days;
    DROP TABLE IF EXISTS rollup_input;
    CREATE TEMPORARY TABLE rollup_input ON COMMIT DROP AS
        SELECT t.event_time, t.station_id, t.route_id, t.service_kind, 1 AS trips,
            (t.ended_at IS NOT NULL)::int AS completed, t.is_transfer::int AS transfers,
            t.credit_used::int AS credit_trips, t.benefit_trip_used::int AS benefit_trips,
            t.fare_charged AS revenue, c.simulated
        FROM trips t JOIN cards c ON c.id = t.card_id;
    PERFORM apply_rollup_input();
    UPDATE rollup_users SET
        total_users = (SELECT count(*) FROM users WHERE NOT simulated),
        active_users = (SELECT count(*) FROM users WHERE active AND NOT simulated),
        simulated_users = (SELECT count(*) FROM users WHERE simulated),
        simulated_active_users = (SELECT count(*) FROM users WHERE active AND simulated)
    WHERE id = 1;
END $$
"""

# A transaction deletes the entries of simulated cards by setting travel_recharge.
# purge_simulated for itself (set_config(..., true); simulator/own_repository.py does).
LEDGER_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('travel_recharge.purge_simulated', true) = 'on'
        AND (SELECT c.simulated FROM cards c WHERE c.id = OLD.card_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP;
END $$
"""

FUNCTIONS = (TRIP_INSERTED, TRIP_ENDED, USERS_CHANGED, APPLY_INPUT, REBUILD, LEDGER_APPEND_ONLY)

# What a downgrade puts back: migration 0003's rollup functions and 0002's ledger guard.
LEDGER_APPEND_ONLY_BEFORE = """
CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP;
END $$
"""


def _or_replace(statement: str) -> str:
    return statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


FUNCTIONS_BEFORE = (
    *(
        _or_replace(statement)
        for statement in (
            rollup_sql.TRIP_INSERTED,
            rollup_sql.TRIP_ENDED,
            rollup_sql.USERS_CHANGED,
            rollup_sql.APPLY_INPUT,
            rollup_sql.REBUILD,
        )
    ),
    LEDGER_APPEND_ONLY_BEFORE,
)
USERS_TRIGGER_BEFORE = rollup_sql.TRIGGERS[2]


def with_more_rollups(fold: str, emptied: str) -> tuple[str, str]:
    """APPLY_INPUT and REBUILD above, extended by a later migration's rollups: `fold` (SQL run
    at the end of every fold, on the same rollup_input) and `emptied` (the DELETE statements
    that empty its tables before a rebuild)."""
    end = "\nEND $$"
    assert APPLY_INPUT.count(end) == 1
    station_days = "    DELETE FROM rollup_station_days;\n"
    assert REBUILD.count(station_days) == 1
    return (
        APPLY_INPUT.replace(end, "\n" + fold + "END $$"),
        REBUILD.replace(station_days, station_days + emptied),
    )
