"""Phase-field electrodeposition and dendrite growth."""
