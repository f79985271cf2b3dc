"""GTFS static in and out: import a city's feed into the network tables, export ours."""
