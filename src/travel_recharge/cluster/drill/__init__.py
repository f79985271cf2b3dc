"""Fault drills: a fleet of devices tapping, recharging and reading while a server dies,
with a client-side log that the checker (cluster.checker) then holds the database to.

One implementation for every fault test — the cluster's (a node killed behind HAProxy) and
the kit's (one PostgreSQL restarted, stopped or made read-only under the app) — and for the
benchmark's cards through a cluster's front:
- cards: the drill's own cards, station, counter and account (prepare_drill), and the plan
  that says where the devices send what with which tokens (DrillPlan);
- log: every operation, attempt and answer as the clients saw them (DrillLog);
- devices: one validator or recharge point, retrying the way a field device must (Device);
- fleet: device threads running until stopped (Drill, running).
"""
