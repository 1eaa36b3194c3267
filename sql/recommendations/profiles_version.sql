-- When the customer profiles were last rebuilt (part of the recommendations' input fingerprint).
SELECT max(updated_at)::text FROM movrec.customer_profiles;
