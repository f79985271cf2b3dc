"""SQL of migration 0012: boardings per station by local hour and by quarter hour.

Station performance compares a station's hour with the same weekday-hour of earlier weeks,
and finds its busiest 15 minutes; both read rollups folded like the others: these versions of
simulated_sql's functions (migration 0006) add the two tables to every fold and rebuild. The
quarter rollup is read for one day at a time, the hourly one for the weeks of history.
"""

from __future__ import annotations

from travel_recharge.migrations import simulated_sql

# Trunk stations, portals and cable stations, as rollup_station_days counts them: a zonal
# stop's boardings are the buses', counted per route.
_STATION_BOARDINGS = """
    INSERT INTO rollup_station_hours AS r (day, station_id, hour, simulated, trips)
    SELECT (i.event_time AT TIME ZONE tz)::date, i.station_id,
        extract(hour FROM i.event_time AT TIME ZONE tz), i.simulated, sum(i.trips)
    FROM rollup_input i JOIN stations s ON s.id = i.station_id
    WHERE i.trips > 0 AND s.kind IN ('portal', 'trunk', 'cable')
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, station_id, hour, simulated) DO UPDATE SET trips = r.trips + EXCLUDED.trips;

    INSERT INTO rollup_station_quarters AS r (day, station_id, quarter, simulated, trips)
    SELECT (i.event_time AT TIME ZONE tz)::date, i.station_id,
        extract(hour FROM i.event_time AT TIME ZONE tz) * 4
            + floor(extract(minute FROM i.event_time AT TIME ZONE tz) / 15),
        i.simulated, sum(i.trips)
    FROM rollup_input i JOIN stations s ON s.id = i.station_id
    WHERE i.trips > 0 AND s.kind IN ('portal', 'trunk', 'cable')
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, station_id, quarter, simulated) DO UPDATE SET
        trips = r.trips + EXCLUDED.trips;
"""

APPLY_INPUT, REBUILD = simulated_sql.with_more_rollups(
    _STATION_BOARDINGS,
    "    DELETE FROM rollup_station_hours;\n    DELETE FROM rollup_station_quarters;\n",
)

FUNCTIONS = (APPLY_INPUT, REBUILD)
FUNCTIONS_BEFORE = (simulated_sql.APPLY_INPUT, simulated_sql.REBUILD)
