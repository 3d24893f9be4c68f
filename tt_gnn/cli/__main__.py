"""``python -m tt_gnn.cli`` (and ``torchrun -m tt_gnn.cli``) runs the ``tt-gnn`` command."""

import sys

from tt_gnn.cli import main

sys.exit(main())
