-- The data version (fingerprint) and time each of some assets recorded when it last wrote its tables.
SELECT asset, fingerprint, updated_at
  FROM movrec.asset_state
 WHERE asset = ANY(%(assets)s::text[])
 ORDER BY asset
