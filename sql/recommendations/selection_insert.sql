-- Record a model choice (movrec_pipeline.warehouse.selections.save).
INSERT INTO movrec.model_selection (served, settings, baselines, validation, calibration, users, ratings, seconds, note)
VALUES (%(served)s, %(settings)s, %(baselines)s, %(validation)s, %(calibration)s, %(users)s, %(ratings)s,
        %(seconds)s, %(note)s);
