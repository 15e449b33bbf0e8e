"""Run KetaDesk with ``python -m ketadesk``."""

import sys

from ketadesk.cli import main

sys.exit(main())
