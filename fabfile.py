"""What `fab` loads: the project's task collection, nothing else."""

from tasks.cli import collection

ns = collection()
