"""`python -m experiments.double_descent`."""

from experiments.double_descent import main

raise SystemExit(main())
