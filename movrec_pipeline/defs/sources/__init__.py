"""Stage 1: the three public datasets as assets (dvdrental restore, Netflix CSV, MovieLens CSVs) and their checks."""
