"""`fab doctor`: which hosts would answer the backend's `GET /status` with an error, and why.

    backend_view.py  that one request, made as the backend makes it, and what it would get
    host_facts.py    what one SSH exchange reads on the host (containers, logs, disk, lock)
    diagnosis.py     the two together: healthy, or the cause in words and the command that fixes it
    run.py           every host in parallel, bounded waits, one line each (or JSON)

Changes nothing on any host. May import the deploy core; never tasks/cli/, tasks/fleet/ or
tasks/sandbox/.
"""
