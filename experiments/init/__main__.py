"""`python -m experiments.init`."""

from experiments.init import main

raise SystemExit(main())
