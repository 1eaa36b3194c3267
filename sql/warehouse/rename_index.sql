ALTER INDEX {index} RENAME TO {new};
