-- Smallest and largest id of a catalogue, for "unknown id" messages ({table} and {column} fixed in code).
SELECT min({column}), max({column}) FROM {table}
