"""``python -m alignkit``: the same as the ``alignkit`` command."""

import sys

from alignkit.cli import main

sys.exit(main())
