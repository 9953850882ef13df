"""End-to-end jobs chaining the layers."""
