"""``python -m cli``: the routewatch command line."""

import sys

from cli.main import main

sys.exit(main())
