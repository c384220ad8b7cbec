"""Every remote action as data: pure functions returning argv lists, no I/O.

`shell` holds the operators and the one quoting function (the runner's edge); `docker`,
`files` and `scripts` build the commands themselves. A plan is argv not yet run.
"""
