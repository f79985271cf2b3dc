-- pgbench script: the SQL of one tap as the service runs it (card lock, duplicate checks,
-- policy, transfer history, trip insert, ledger entry, balance update), on cards of its own.
\set card random(:first_card, :last_card)
\set account 1
BEGIN;
SELECT id, balance, credit_trips_in_use, status, card_type, profile FROM cards WHERE id = :card FOR UPDATE;
SELECT id FROM trips WHERE tap_id = (SELECT gen_random_uuid());
SELECT id FROM trips WHERE card_id = :card AND validator_id = 'PGBENCH'
    AND event_time BETWEEN now() - interval '60 seconds' AND now() + interval '60 seconds'
    ORDER BY event_time DESC LIMIT 1;
SELECT id, document FROM fare_policies WHERE effective_from <= now() ORDER BY effective_from DESC LIMIT 1;
SELECT id, event_time, service_kind, route_id, station_id, fare_kind, fare_charged FROM trips
    WHERE card_id = :card AND event_time BETWEEN now() - interval '125 minutes' AND now() ORDER BY event_time;
WITH trip AS (
    INSERT INTO trips (tap_id, card_id, validator_id, station_id, service_kind, event_time,
        fare_policy_id, fare_charged, fare_kind, is_transfer, credit_used, benefit_trip_used,
        transfers_in_window, balance_after, account_id)
    SELECT gen_random_uuid(), :card, 'PGBENCH-' || :client_id || '-' || random(), 1, 'trunk', now(),
        (SELECT max(id) FROM fare_policies), 3550, 'full', false, false, false, 0, balance - 3550,
        :account
    FROM cards WHERE id = :card
    RETURNING id, balance_after
)
INSERT INTO ledger_entries (card_id, kind, amount, balance_after, trip_id, account_id)
    SELECT :card, 'fare', -3550, balance_after, id, :account FROM trip;
UPDATE cards SET balance = balance - 3550, last_used_at = greatest(last_used_at, now()) WHERE id = :card;
END;
