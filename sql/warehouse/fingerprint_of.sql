-- The data version of the materialization that last wrote an asset's table(s).
SELECT fingerprint FROM movrec.asset_state WHERE asset = %(asset)s;
