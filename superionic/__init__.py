"""superionic: solid-state ionics from atoms to cells."""

from superionic.core.estimate import Estimate

__version__ = "0.1.0"
__all__ = ["Estimate", "__version__"]
