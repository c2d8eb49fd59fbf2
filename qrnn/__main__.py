"""``python -m qrnn``: the ``qrnn`` command."""

import sys

from qrnn.cli import main

sys.exit(main())
