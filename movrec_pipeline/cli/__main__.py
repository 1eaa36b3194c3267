"""``python -m movrec_pipeline.cli`` is ``movrec``."""

import sys

from movrec_pipeline.cli.main import main

sys.exit(main())
