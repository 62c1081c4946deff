"""The multi-process set: the roles (web, worker, ingest) and how they share the work."""
