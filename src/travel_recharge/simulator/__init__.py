"""The traffic simulator: simulated riders tapping and recharging through the real HTTP API.

An operator starts it (POST /api/v1/simulator/start or `travel-recharge simulate`) at a rate
of events per second for some minutes; one worker runs it, coordinated through Redis so that
every worker and machine answers the same status and at most one simulation runs at a time.
"""
