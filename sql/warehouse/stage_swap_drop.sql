-- The published table goes (its indexes with it); dependent views are recreated by the caller.
DROP TABLE IF EXISTS {target} CASCADE;
