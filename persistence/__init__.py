"""SQLAlchemy adapters for the domain's ports: tables, repositories, unit of work, migrations."""
