"""``python -m sdpose_core``: see ``sdpose_core.cli``."""

import sys

from .cli import main

sys.exit(main())
