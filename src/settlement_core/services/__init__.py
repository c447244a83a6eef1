"""Use cases and jobs: one unit of work per command."""
