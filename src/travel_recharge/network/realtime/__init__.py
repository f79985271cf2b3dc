"""GTFS-Realtime feeds of the network: service alerts and trip updates, protobuf or JSON."""
