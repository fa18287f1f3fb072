"""`python -m experiments.lipschitz`."""

from experiments.lipschitz import main

raise SystemExit(main())
