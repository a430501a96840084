"""``python -m augur.cli``: the same as the ``augur`` command (used to spawn served processes)."""

import sys

from augur.cli.main import main

sys.exit(main())
