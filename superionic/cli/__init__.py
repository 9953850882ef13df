"""The ``superionic`` command. Each module here adds one group of sub-commands."""
