"""Stage 4: recommendation tables for every customer and MovieLens user, and similar-item lists."""
