"""Tests of tasks/fleet: the rollout's shape, its parts and the inventory (no host needed)."""
