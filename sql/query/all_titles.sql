-- Every title and year of one catalogue, for "did you mean" suggestions (identifiers fixed in code).
SELECT {title}, {year} FROM {table}
