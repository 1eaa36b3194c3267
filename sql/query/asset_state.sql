-- When each derived asset last rebuilt its table (written by the assets' fingerprint bookkeeping).
SELECT asset, updated_at FROM movrec.asset_state
