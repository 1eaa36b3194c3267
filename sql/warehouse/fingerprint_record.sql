-- Remember the inputs of a successful build.
INSERT INTO movrec.asset_state (asset, fingerprint, updated_at)
VALUES (%(asset)s, %(fingerprint)s, now())
ON CONFLICT (asset) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, updated_at = now();
