"""`python -m experiments.implicit_reg`."""

from experiments.implicit_reg import main

raise SystemExit(main())
