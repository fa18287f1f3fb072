"""`python -m experiments.gradients_depth`."""

from experiments.gradients_depth import main

raise SystemExit(main())
