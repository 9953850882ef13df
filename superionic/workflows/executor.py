"""The executor of independent runs; it lives in :mod:`superionic.core.executor`, so that
labelling (in :mod:`superionic.potentials`) uses the same one."""

from superionic.core.executor import Executor

__all__ = ["Executor"]
