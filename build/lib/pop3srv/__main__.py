"""``python -m pop3srv``: the same as the ``pop3srv`` command."""

import sys

from pop3srv.cli import main

sys.exit(main())
