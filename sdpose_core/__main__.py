"""``python -m sdpose_core``: see ``sdpose_core.cli.main``."""

import sys

from .cli.main import main

sys.exit(main())
