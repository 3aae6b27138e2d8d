"""Repositories implementing the domain's ports over SQLAlchemy Core."""
