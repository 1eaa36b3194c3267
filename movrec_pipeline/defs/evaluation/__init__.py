"""Stage 5: the offline evaluation of the recommendations against baselines."""
