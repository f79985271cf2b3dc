"""SQL of the analytics rollups: triggers that keep them exact and a rebuild for bulk loads.

Kept in one module so the migration that creates them and the code that rebuilds them after
a bulk COPY (which runs with the trips trigger disabled) share the same definitions.
"""

from __future__ import annotations

# The locality a boarding belongs to: its station's, or for an on-board validator (route
# only) the locality of the route's first stop. '00' marks a route without stops.
TRIP_LOCALITY = """
CREATE FUNCTION trip_locality(p_station_id integer, p_route_id integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT locality_code FROM stations WHERE id = p_station_id),
        (SELECT s.locality_code FROM route_stops rs JOIN stations s ON s.id = rs.station_id
          WHERE rs.route_id = p_route_id ORDER BY rs.sequence LIMIT 1),
        '00')
$$
"""

TRIP_INSERTED = """
CREATE FUNCTION rollup_trip_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cfg analytics_settings%ROWTYPE;
    v_local timestamp;
    v_shard smallint;
    v_station_kind text;
BEGIN
    SELECT * INTO cfg FROM analytics_settings WHERE id = 1;
    v_local := NEW.event_time AT TIME ZONE cfg.timezone;
    v_shard := NEW.card_id % cfg.shards;
    INSERT INTO rollup_totals AS r (locality_code, service_kind, shard, trips, transfers,
        credit_trips, benefit_trips, revenue, completed_trips)
    VALUES (trip_locality(NEW.station_id, NEW.route_id), NEW.service_kind, v_shard, 1,
        NEW.is_transfer::int, NEW.credit_used::int, NEW.benefit_trip_used::int,
        NEW.fare_charged, (NEW.ended_at IS NOT NULL)::int)
    ON CONFLICT (locality_code, service_kind, shard) DO UPDATE SET
        trips = r.trips + 1, transfers = r.transfers + EXCLUDED.transfers,
        credit_trips = r.credit_trips + EXCLUDED.credit_trips,
        benefit_trips = r.benefit_trips + EXCLUDED.benefit_trips,
        revenue = r.revenue + EXCLUDED.revenue,
        completed_trips = r.completed_trips + EXCLUDED.completed_trips;
    INSERT INTO rollup_hours AS r (day, hour, service_kind, shard, trips, transfers,
        credit_trips, benefit_trips, revenue)
    VALUES (v_local::date, extract(hour FROM v_local), NEW.service_kind, v_shard, 1,
        NEW.is_transfer::int, NEW.credit_used::int, NEW.benefit_trip_used::int, NEW.fare_charged)
    ON CONFLICT (day, hour, service_kind, shard) DO UPDATE SET
        trips = r.trips + 1, transfers = r.transfers + EXCLUDED.transfers,
        credit_trips = r.credit_trips + EXCLUDED.credit_trips,
        benefit_trips = r.benefit_trips + EXCLUDED.benefit_trips,
        revenue = r.revenue + EXCLUDED.revenue;
    IF NEW.station_id IS NOT NULL THEN
        SELECT kind INTO v_station_kind FROM stations WHERE id = NEW.station_id;
        IF v_station_kind IN ('portal', 'trunk', 'cable') THEN
            INSERT INTO rollup_station_days AS r (day, station_id, shard, trips, revenue)
            VALUES (v_local::date, NEW.station_id, v_shard, 1, NEW.fare_charged)
            ON CONFLICT (day, station_id, shard) DO UPDATE SET
                trips = r.trips + 1, revenue = r.revenue + EXCLUDED.revenue;
        END IF;
    END IF;
    RETURN NULL;
END $$
"""

TRIP_ENDED = """
CREATE FUNCTION rollup_trip_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rollup_totals SET completed_trips = completed_trips + 1
    WHERE locality_code = trip_locality(NEW.station_id, NEW.route_id)
      AND service_kind = NEW.service_kind
      AND shard = NEW.card_id % (SELECT shards FROM analytics_settings WHERE id = 1);
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

TRIGGERS = (
    "CREATE TRIGGER trips_rollup_inserted AFTER INSERT ON trips "
    "FOR EACH ROW EXECUTE FUNCTION rollup_trip_inserted()",
    "CREATE TRIGGER trips_rollup_ended AFTER UPDATE OF ended_at ON trips FOR EACH ROW "
    "WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL) "
    "EXECUTE FUNCTION rollup_trip_ended()",
    "CREATE TRIGGER users_rollup AFTER INSERT OR DELETE OR UPDATE OF active ON users "
    "FOR EACH ROW EXECUTE FUNCTION rollup_users_changed()",
)

# Recomputes every rollup from the rows (after a bulk COPY with the trips trigger disabled,
# or to repair). One pass over trips per rollup table.
REBUILD = """
CREATE FUNCTION rebuild_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rollup_totals;
    DELETE FROM rollup_hours;
    DELETE FROM rollup_station_days;
    CREATE TEMPORARY TABLE route_locality ON COMMIT DROP AS
        SELECT DISTINCT ON (rs.route_id) rs.route_id, s.locality_code
        FROM route_stops rs JOIN stations s ON s.id = rs.station_id
        ORDER BY rs.route_id, rs.sequence;
    CREATE TEMPORARY TABLE rollup_source ON COMMIT DROP AS
        SELECT t.service_kind, t.station_id, s.kind AS station_kind,
            coalesce(s.locality_code, rl.locality_code, '00') AS locality_code,
            (t.card_id % cfg.shards)::smallint AS shard,
            (t.event_time AT TIME ZONE cfg.timezone) AS local_time,
            t.is_transfer::int AS transfer, t.credit_used::int AS credit,
            t.benefit_trip_used::int AS benefit, t.fare_charged,
            (t.ended_at IS NOT NULL)::int AS completed
        FROM trips t
        CROSS JOIN (SELECT timezone, shards FROM analytics_settings WHERE id = 1) cfg
        LEFT JOIN stations s ON s.id = t.station_id
        LEFT JOIN route_locality rl ON rl.route_id = t.route_id;
    INSERT INTO rollup_totals (locality_code, service_kind, shard, trips, transfers,
        credit_trips, benefit_trips, revenue, completed_trips)
    SELECT locality_code, service_kind, shard, count(*), sum(transfer), sum(credit),
        sum(benefit), sum(fare_charged), sum(completed)
    FROM rollup_source GROUP BY 1, 2, 3;
    INSERT INTO rollup_hours (day, hour, service_kind, shard, trips, transfers, credit_trips,
        benefit_trips, revenue)
    SELECT local_time::date, extract(hour FROM local_time), service_kind, shard, count(*),
        sum(transfer), sum(credit), sum(benefit), sum(fare_charged)
    FROM rollup_source GROUP BY 1, 2, 3, 4;
    INSERT INTO rollup_station_days (day, station_id, shard, trips, revenue)
    SELECT local_time::date, station_id, shard, count(*), sum(fare_charged)
    FROM rollup_source WHERE station_kind IN ('portal', 'trunk', 'cable') GROUP BY 1, 2, 3;
    UPDATE rollup_users SET total_users = (SELECT count(*) FROM users),
        active_users = (SELECT count(*) FROM users WHERE active) WHERE id = 1;
END $$
"""

FUNCTIONS = (TRIP_LOCALITY, TRIP_INSERTED, TRIP_ENDED, USERS_CHANGED, REBUILD)
DROP_FUNCTIONS = (
    "rebuild_rollups()",
    "rollup_users_changed()",
    "rollup_trip_ended()",
    "rollup_trip_inserted()",
    "trip_locality(integer, integer)",
)
