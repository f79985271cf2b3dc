-- Bench fixture: one portal, and :cards basic cards holding the maximum balance, each with
-- the ledger entry that explains its balance (the ledger verifies after the bench). The
-- benchmark's account comes first (account_fixture.sql).
INSERT INTO localities (code, name) VALUES ('11', 'Suba');
INSERT INTO stations (id, code, name, kind, corridor, locality_code, latitude, longitude)
    VALUES (1, '02000', 'Portal Norte', 'portal', 'B', '11', 4.754, -74.046);
INSERT INTO cards (id, card_number, card_type, balance)
    SELECT i, lpad(i::text, 16, '0'), 'basic', 418000 FROM generate_series(1, :cards) AS i;
SELECT setval('cards_id_seq', :cards);
INSERT INTO ledger_entries (card_id, kind, amount, balance_after, note)
    SELECT i, 'adjustment', 418000, 418000, 'bench opening balance'
    FROM generate_series(1, :cards) AS i;
