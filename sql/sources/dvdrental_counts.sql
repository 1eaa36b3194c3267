-- Row counts of the dvdrental tables the pipeline uses; {schema} is the schema to count in.
SELECT (SELECT count(*) FROM {schema}.film)      AS film,
       (SELECT count(*) FROM {schema}.customer)  AS customer,
       (SELECT count(*) FROM {schema}.rental)    AS rental,
       (SELECT count(*) FROM {schema}.inventory) AS inventory
