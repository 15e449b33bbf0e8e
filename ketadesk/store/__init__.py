"""The database: SQLAlchemy models, the engine and session factory, migrations and queries.

Nothing here imports Qt.
"""
