"""Fault-test support: servers of a test's own to break — a PostgreSQL to restart, stop and
replicate (postgres), a server that never answers (silent). The load and its checker are the
package's own (travel_recharge.cluster.drill, cluster.checker), shared with the cluster."""
