"""The ``callhook`` command line: one module per command group."""
