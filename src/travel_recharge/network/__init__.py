"""The network: localities, stations, routes, arrivals, alerts and recharge points."""
