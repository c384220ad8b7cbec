"""The deploy's steps: each takes a Remote (tasks/runner.py) and the settings, reads facts,
sends commands, and returns what the next step needs. No step formats a shell line."""
