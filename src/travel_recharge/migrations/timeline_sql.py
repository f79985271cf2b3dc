"""SQL of migration 0016: a station's day as one row, its boardings by hour and by quarter hour.

Migration 0012 kept a row per station, day and hour, and one per quarter hour: station
performance read ~20,000 rows for eight weeks of one weekday's hours and ~9,000 for a day's
quarters, 30-50 ms of a cold answer at ten million trips. Here a station's day is one row
holding both as arrays (element 1 is 00:00), so the same answer reads ~1,300 rows and 146.

Each fold adds the input's counts element by element (add_counts) to the row of its day and
station, made dense first (dense_counts: a slot without boardings counts 0). These versions
of simulated_sql's functions (migration 0006) write the new table instead of 0012's two.
"""

from __future__ import annotations

from travel_recharge.migrations import simulated_sql

DENSE_COUNTS = """
CREATE FUNCTION dense_counts(slots integer[], counts bigint[], size integer) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(c.n, 0) ORDER BY g.slot)
    FROM generate_series(0, size - 1) AS g(slot)
    LEFT JOIN (
        SELECT u.slot, sum(u.n)::bigint AS n FROM unnest(slots, counts) AS u(slot, n)
        GROUP BY u.slot
    ) c ON c.slot = g.slot
$$
"""

ADD_COUNTS = """
CREATE FUNCTION add_counts(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(u.x + u.y ORDER BY u.i) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$
"""

HELPERS = (DENSE_COUNTS, ADD_COUNTS)
DROP_HELPERS = (
    "DROP FUNCTION add_counts(bigint[], bigint[])",
    "DROP FUNCTION dense_counts(integer[], bigint[], integer)",
)

# Trunk stations, portals and cable stations, as rollup_station_days counts them: a zonal
# stop's boardings are the buses', counted per route.
_STATION_TIMELINES = """
    INSERT INTO rollup_station_timelines AS r (day, station_id, simulated, hours, quarters)
    SELECT q.day, q.station_id, q.simulated,
        dense_counts(array_agg(q.quarter / 4), array_agg(q.trips), 24),
        dense_counts(array_agg(q.quarter), array_agg(q.trips), 96)
    FROM (
        SELECT (i.event_time AT TIME ZONE tz)::date AS day, i.station_id, i.simulated,
            (extract(hour FROM i.event_time AT TIME ZONE tz) * 4
                + floor(extract(minute FROM i.event_time AT TIME ZONE tz) / 15))::integer
                AS quarter,
            sum(i.trips)::bigint AS trips
        FROM rollup_input i JOIN stations s ON s.id = i.station_id
        WHERE i.trips > 0 AND s.kind IN ('portal', 'trunk', 'cable')
        GROUP BY 1, 2, 3, 4
    ) q
    GROUP BY 1, 2, 3
    ON CONFLICT (day, station_id, simulated) DO UPDATE SET
        hours = add_counts(r.hours, EXCLUDED.hours),
        quarters = add_counts(r.quarters, EXCLUDED.quarters);
"""

APPLY_INPUT, REBUILD = simulated_sql.with_more_rollups(
    _STATION_TIMELINES,
    "    DELETE FROM rollup_station_timelines;\n",
)

FUNCTIONS = (APPLY_INPUT, REBUILD)

# 0012's rows from a timeline: every hour and quarter with boardings.
TO_ROWS = """
    INSERT INTO rollup_station_{period}s (day, station_id, {period}, simulated, trips)
    SELECT t.day, t.station_id, u.slot - 1, t.simulated, u.n
    FROM rollup_station_timelines t, unnest(t.{period}s) WITH ORDINALITY AS u(n, slot)
    WHERE u.n > 0
"""

# A timeline from 0012's quarter rows (the hours are their sums).
FROM_ROWS = """
    INSERT INTO rollup_station_timelines (day, station_id, simulated, hours, quarters)
    SELECT day, station_id, simulated,
        dense_counts(array_agg(quarter / 4), array_agg(trips), 24),
        dense_counts(array_agg(quarter::integer), array_agg(trips), 96)
    FROM rollup_station_quarters GROUP BY 1, 2, 3
"""
