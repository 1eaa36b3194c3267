-- Hear of every change of movrec.asset_state (the trigger in sql/warehouse/schema.sql announces each commit).
LISTEN movrec_asset_state
