"""`python -m experiments.linear_models`."""

from experiments.linear_models import main

raise SystemExit(main())
