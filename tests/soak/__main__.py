"""`python -m tests.soak ...`: the soak driver (see tests/soak/run.py)."""

import sys

from tests.soak.run import main

sys.exit(main())
