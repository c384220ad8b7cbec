"""Tests of the deploy tooling: unit (no host) and end to end (sandbox droplets)."""
