"""Readers of the official formats: each turns one file into a ``Batch`` of tidy frames with provenance."""
