"""Storage: SQLAlchemy 2 async models per domain, Alembic migrations applied at start-up."""
