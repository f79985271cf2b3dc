"""SQL of the analytics rollups: delta triggers, the folder, and a full rebuild.

Kept in one module so the migration that creates them and the code that rebuilds them after
a bulk COPY (which runs with the trips triggers disabled) share the same definitions.
"""

from __future__ import annotations

# A tap appends one delta row; no shared counter is touched inside the tap's transaction.
TRIP_INSERTED = """
CREATE FUNCTION rollup_delta_trip_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_deltas (event_time, station_id, route_id, service_kind, trips, completed,
        transfers, credit_trips, benefit_trips, revenue)
    VALUES (NEW.event_time, NEW.station_id, NEW.route_id, NEW.service_kind, 1,
        (NEW.ended_at IS NOT NULL)::int, NEW.is_transfer::int, NEW.credit_used::int,
        NEW.benefit_trip_used::int, NEW.fare_charged);
    RETURN NULL;
END $$
"""

TRIP_ENDED = """
CREATE FUNCTION rollup_delta_trip_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_deltas (event_time, station_id, route_id, service_kind, trips, completed,
        transfers, credit_trips, benefit_trips, revenue)
    VALUES (NEW.event_time, NEW.station_id, NEW.route_id, NEW.service_kind, 0, 1, 0, 0, 0, 0);
    RETURN NULL;
END $$
"""

USERS_CHANGED = """
CREATE FUNCTION rollup_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE rollup_users SET total_users = total_users + 1,
            active_users = active_users + NEW.active::int WHERE id = 1;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE rollup_users SET total_users = total_users - 1,
            active_users = active_users - OLD.active::int WHERE id = 1;
    ELSE
        UPDATE rollup_users SET active_users = active_users + NEW.active::int - OLD.active::int
        WHERE id = 1;
    END IF;
    RETURN NULL;
END $$
"""

# Adds the rows of the temporary table rollup_input (shaped like rollup_deltas) to the
# rollups. A boarding's locality is its station's, or for an on-board validator (route only)
# the locality of the route's first stop; '00' marks a route without stops.
APPLY_INPUT = """
CREATE FUNCTION apply_rollup_input() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tz text := (SELECT timezone FROM analytics_settings WHERE id = 1);
BEGIN
    INSERT INTO rollup_totals AS r (locality_code, service_kind, trips, completed_trips,
        transfers, credit_trips, benefit_trips, revenue)
    SELECT coalesce(s.locality_code, first_stop.locality_code, '00'), i.service_kind,
        sum(i.trips), sum(i.completed), sum(i.transfers), sum(i.credit_trips),
        sum(i.benefit_trips), sum(i.revenue)
    FROM rollup_input i
    LEFT JOIN stations s ON s.id = i.station_id
    LEFT JOIN LATERAL (
        SELECT st.locality_code FROM route_stops rs JOIN stations st ON st.id = rs.station_id
        WHERE rs.route_id = i.route_id ORDER BY rs.sequence LIMIT 1
    ) first_stop ON i.station_id IS NULL
    GROUP BY 1, 2
    ON CONFLICT (locality_code, service_kind) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips,
        completed_trips = r.completed_trips + EXCLUDED.completed_trips,
        transfers = r.transfers + EXCLUDED.transfers,
        credit_trips = r.credit_trips + EXCLUDED.credit_trips,
        benefit_trips = r.benefit_trips + EXCLUDED.benefit_trips,
        revenue = r.revenue + EXCLUDED.revenue;

    INSERT INTO rollup_hours AS r (day, hour, service_kind, trips, transfers, credit_trips,
        benefit_trips, revenue)
    SELECT (i.event_time AT TIME ZONE tz)::date, extract(hour FROM i.event_time AT TIME ZONE tz),
        i.service_kind, sum(i.trips), sum(i.transfers), sum(i.credit_trips),
        sum(i.benefit_trips), sum(i.revenue)
    FROM rollup_input i WHERE i.trips > 0
    GROUP BY 1, 2, 3
    ON CONFLICT (day, hour, service_kind) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips,
        transfers = r.transfers + EXCLUDED.transfers,
        credit_trips = r.credit_trips + EXCLUDED.credit_trips,
        benefit_trips = r.benefit_trips + EXCLUDED.benefit_trips,
        revenue = r.revenue + EXCLUDED.revenue;

    INSERT INTO rollup_station_days AS r (day, station_id, trips, revenue)
    SELECT (i.event_time AT TIME ZONE tz)::date, i.station_id, sum(i.trips), sum(i.revenue)
    FROM rollup_input i JOIN stations s ON s.id = i.station_id
    WHERE i.trips > 0 AND s.kind IN ('portal', 'trunk', 'cable')
    GROUP BY 1, 2
    ON CONFLICT (day, station_id) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips, revenue = r.revenue + EXCLUDED.revenue;
END $$
"""

# Moves the pending deltas into the rollups; returns how many it folded. One folder at a time
# (any worker on any machine): the others skip the round instead of waiting.
FOLD = """
CREATE FUNCTION fold_rollup_deltas() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('travel_recharge.fold_rollup_deltas')) THEN
        RETURN 0;
    END IF;
    DROP TABLE IF EXISTS rollup_input;
    CREATE TEMPORARY TABLE rollup_input ON COMMIT DROP AS
        WITH moved AS (DELETE FROM rollup_deltas RETURNING *) SELECT * FROM moved;
    SELECT count(*) INTO folded FROM rollup_input;
    IF folded > 0 THEN
        PERFORM apply_rollup_input();
    END IF;
    RETURN folded;
END $$
"""

# Recomputes every rollup from the rows: after a bulk COPY with the triggers disabled, or to
# repair. Holds the folder's lock so no fold runs halfway through.
REBUILD = """
CREATE FUNCTION rebuild_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('travel_recharge.fold_rollup_deltas'));
    DELETE FROM rollup_deltas;
    DELETE FROM rollup_totals;
    DELETE FROM rollup_hours;
    DELETE FROM rollup_station_days;
    DROP TABLE IF EXISTS rollup_input;
    CREATE TEMPORARY TABLE rollup_input ON COMMIT DROP AS
        SELECT event_time, station_id, route_id, service_kind, 1 AS trips,
            (ended_at IS NOT NULL)::int AS completed, is_transfer::int AS transfers,
            credit_used::int AS credit_trips, benefit_trip_used::int AS benefit_trips,
            fare_charged AS revenue
        FROM trips;
    PERFORM apply_rollup_input();
    UPDATE rollup_users SET total_users = (SELECT count(*) FROM users),
        active_users = (SELECT count(*) FROM users WHERE active) WHERE id = 1;
END $$
"""

TRIGGERS = (
    "CREATE TRIGGER trips_rollup_inserted AFTER INSERT ON trips "
    "FOR EACH ROW EXECUTE FUNCTION rollup_delta_trip_inserted()",
    "CREATE TRIGGER trips_rollup_ended AFTER UPDATE OF ended_at ON trips FOR EACH ROW "
    "WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL) "
    "EXECUTE FUNCTION rollup_delta_trip_ended()",
    "CREATE TRIGGER users_rollup AFTER INSERT OR DELETE OR UPDATE OF active ON users "
    "FOR EACH ROW EXECUTE FUNCTION rollup_users_changed()",
)

FUNCTIONS = (TRIP_INSERTED, TRIP_ENDED, USERS_CHANGED, APPLY_INPUT, FOLD, REBUILD)
DROP_FUNCTIONS = (
    "rebuild_rollups()",
    "fold_rollup_deltas()",
    "apply_rollup_input()",
    "rollup_users_changed()",
    "rollup_delta_trip_ended()",
    "rollup_delta_trip_inserted()",
)
