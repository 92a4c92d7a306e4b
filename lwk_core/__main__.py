"""`python -m lwk_core ...` runs the `lwk` command line."""

from lwk_core.cli import main

raise SystemExit(main())
