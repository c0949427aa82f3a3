"""Presentation of results: terminal text, JSON, CSV. Reads a Result; never changes it."""
