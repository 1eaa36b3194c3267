-- The latest model choice.
SELECT served, settings, baselines, validation, calibration, users, ratings, seconds, note
FROM movrec.model_selection
ORDER BY selected_at DESC
LIMIT 1;
