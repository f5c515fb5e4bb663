"""``python -m bench``: see bench/README.md and ``python -m bench --help``."""

import sys

from .run import main

sys.exit(main())
