"""What the deploy reads from a host, as typed objects parsed in one place.

Each fact is a command (tasks/commands) plus the parsing of its answer; `read_*` functions run
it through the runner. Steps decide on these objects, never on raw command output.
"""
