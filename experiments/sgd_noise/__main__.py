"""`python -m experiments.sgd_noise`."""

from experiments.sgd_noise import main

raise SystemExit(main())
