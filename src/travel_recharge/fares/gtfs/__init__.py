"""GTFS-Fares v2: the fare policy in force, as the files journey planners read."""
