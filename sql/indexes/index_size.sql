-- On-disk size of one index.
SELECT pg_relation_size(%(index)s::regclass);
