"""What `fab` loads: the project's task collection, nothing else."""

from tasks import ns

__all__ = ["ns"]
