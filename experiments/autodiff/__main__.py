"""`python -m experiments.autodiff`."""

from experiments.autodiff import main

raise SystemExit(main())
