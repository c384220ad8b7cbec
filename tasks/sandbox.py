"""Placeholder: replaced by the sandbox tasks."""
