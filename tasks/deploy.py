"""Placeholder: replaced by the deploy tasks."""
