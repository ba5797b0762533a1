"""Integration tests: several parts together, real processes and files."""
