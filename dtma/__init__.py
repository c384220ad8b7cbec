"""DTMA: the Droplet Tool Management Agent (FastAPI service on port 30000)."""

__version__ = "0.1.0"
