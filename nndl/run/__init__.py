"""The harness around the library: command line (flags generated from configs), run folders, progress bars,
figures, check rows and report text templates. The library (`nndl.*` outside `run/` and `report/`) never
imports it."""
