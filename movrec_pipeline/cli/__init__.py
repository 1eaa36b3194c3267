"""``movrec``: pipeline commands (materialize, dev, db) and query commands (recommend, similar, …)."""
