"""`python -m experiments.backprop`."""

from experiments.backprop import main

raise SystemExit(main())
