"""The edge's replay of cached answers: a GET the route has answered with a cached view's
bytes is answered again from Redis, without routing, dependencies or a database session.

A worker learns from each route it runs: when a GET's 200 answer was exactly the bytes of
one cached view (kit.views notes every view a request reads, by identity) and the route's
access rule admitted it once (security notes that), the worker remembers, for that path,
query and Authorization header, which view it was and which rule let it through (and, once
two paths of one route agree, how the route makes the view's key from the path: templates).
For the next second (`answer_replay_s`) the same request is answered at the edge: the access rule is
checked again on the token, and the rule's rate limit and the view's freshness are asked of
Redis in one round trip. Anything else (no valid token, a role the rule does not name, a
refused rate limit, a view not fresh in Redis, Redis down) goes on to the route, which
decides as it always has; a request counted in the rate limit at the edge is not counted
again there.

What a replayed answer keeps: the access rule, the rate limit, the request id, the security
headers, the metrics under the route's template (the edge layer outside this one), gzip, the
ETag and its 304, and the freshness of the view (its generation token is checked in Redis, as
the route would). What a learned mapping can lag by: a view chosen by the time (the default
date range, the live hour) is the one of at most `answer_replay_s` ago.
"""
