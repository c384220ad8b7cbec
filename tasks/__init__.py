"""dtma-deploy: ship the DTMA agent to plain servers over SSH (see README, "How the code is
laid out"). `fab` loads `ns`, the task collection built in tasks/cli."""

from tasks.cli import collection

ns = collection()
