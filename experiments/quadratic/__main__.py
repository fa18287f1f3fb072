"""`python -m experiments.quadratic`."""

from experiments.quadratic import main

raise SystemExit(main())
