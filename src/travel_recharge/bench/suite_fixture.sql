-- Suite fixture, after tap_fixture.sql: a counter recharge point (POS channel: the web
-- channel is refused at this endpoint) and empty basic cards :first_card..:last_card to
-- recharge, kept apart from the tap cards, which hold the maximum balance already.
INSERT INTO recharge_points (id, name, locality_code, channel)
    VALUES (1, 'Taquilla Portal Norte', '11', 'counter');
INSERT INTO cards (id, card_number, card_type, balance)
    SELECT i, lpad(i::text, 16, '0'), 'basic', 0 FROM generate_series(:first_card, :last_card) AS i;
SELECT setval('cards_id_seq', :last_card);
