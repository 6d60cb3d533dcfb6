"""``python -m pocosmtp``: the same as the ``pocosmtp`` command."""

from .cli import main

raise SystemExit(main())
