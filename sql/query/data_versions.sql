-- The data version (fingerprint) and time each of some assets recorded when it last wrote its tables: by name, or
-- every record whose name matches a LIKE pattern (a partitioned asset records one per bucket, 'asset/b07').
SELECT asset, fingerprint, updated_at
  FROM movrec.asset_state
 WHERE asset = ANY(%(assets)s::text[]) OR asset LIKE ANY(%(patterns)s::text[])
 ORDER BY asset
