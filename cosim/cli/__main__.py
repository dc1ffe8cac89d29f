"""``python -m cosim.cli``: the ``cosim`` command."""

from cosim.cli import main

raise SystemExit(main())
