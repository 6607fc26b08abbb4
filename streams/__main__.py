"""``python -m streams``: the ``rankstream`` command."""

import sys

from streams.apps.cli import main

sys.exit(main())
