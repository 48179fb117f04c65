"""Checkers: pure functions over recorded histories."""
