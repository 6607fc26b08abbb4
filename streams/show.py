"""``python -m streams.show FILE``, the command docs/contract.md (section 5) names; the
code is :mod:`streams.apps.show`. An entry point like ``python -m streams``, outside the
layers."""

import sys

from streams.apps.show import main

if __name__ == "__main__":
    sys.exit(main())
