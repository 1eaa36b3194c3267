-- The fingerprint of an asset's last successful build.
SELECT fingerprint FROM movrec.asset_state WHERE asset = %(asset)s;
