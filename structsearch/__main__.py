"""``python -m structsearch``: the same as the ``structsearch`` command."""

import sys

from structsearch.commands import main

sys.exit(main())
