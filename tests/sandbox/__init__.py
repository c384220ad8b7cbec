"""End-to-end tests of the agent image and the sandbox droplets (real Docker, real SSH)."""
