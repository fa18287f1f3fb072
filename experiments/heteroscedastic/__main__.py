"""`python -m experiments.heteroscedastic`."""

from experiments.heteroscedastic import main

raise SystemExit(main())
