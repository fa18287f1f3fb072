"""`python -m experiments.adam`."""

from experiments.adam import main

raise SystemExit(main())
