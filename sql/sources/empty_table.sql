-- Empty one table (inside the caller's transaction, before it is reloaded).
DELETE FROM {table};
