INSERT INTO movrec.model_artifacts (name, fingerprint, array_name, part, payload)
VALUES (%(name)s, %(fingerprint)s, %(array)s, %(part)s, %(payload)s);
