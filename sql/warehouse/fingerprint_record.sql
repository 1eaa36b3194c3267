-- Record the data version an asset's table(s) now hold, and when.
INSERT INTO movrec.asset_state (asset, fingerprint, updated_at)
VALUES (%(asset)s, %(fingerprint)s, now())
ON CONFLICT (asset) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, updated_at = now();
