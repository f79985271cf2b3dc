-- The account the benchmark's tokens name (bench/server.py), which trips, recharges, ledger
-- entries, audit lines and revocations record: inactive, with no usable secret. Made first,
-- so no account a run creates takes its id (revoking that account's tokens would revoke the
-- benchmark's own).
INSERT INTO accounts (id, login, kind, role, secret_hash, active)
    VALUES (1, 'bench', 'person', 'admin', '!', false);
SELECT setval('accounts_id_seq', 1);
