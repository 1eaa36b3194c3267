-- Swap a freshly restored dvdrental_next schema in place of dvdrental, in one transaction.
DROP SCHEMA IF EXISTS dvdrental CASCADE;
ALTER SCHEMA dvdrental_next RENAME TO dvdrental;
