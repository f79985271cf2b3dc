"""The one-machine cluster: Patroni + etcd, HAProxy, Redis Sentinel and several API nodes.

A tool like bench/ and seed/: the CLI (`travel-recharge cluster ...`) and the tests use it,
the served app never imports it. Every component is a real server process of the engine
operators already run (Debian's patroni, etcd, haproxy, redis-server); this package only
renders their configuration, starts and stops them, and asks them how they are.
"""
