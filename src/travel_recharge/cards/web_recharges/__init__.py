"""Web recharges: paid on the web, pending, posted at the card's next read at a station,
expired and refunded when it is not read in time (models.web_recharges says why)."""
