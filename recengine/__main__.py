"""``python -m recengine VERB ...``: one CLI verb a module in recengine/cli/."""

from .cli import main

raise SystemExit(main())
