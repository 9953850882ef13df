"""Units, constants, errors, uncertainty-carrying results and structure adapters."""
