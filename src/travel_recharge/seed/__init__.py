"""Demo data: a deterministic ridership generator (pure) and its COPY loader.

`generate` never touches a database; `load` fetches the network and fare policies, runs the
generator in worker processes over disjoint card ranges and streams the rows with COPY.
"""
