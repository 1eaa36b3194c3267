ALTER TABLE {moved} RENAME TO {table};
