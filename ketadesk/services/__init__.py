"""Use cases: each operation is one short transaction that checks, writes and audits.

Services return frozen dataclasses, never live ORM objects.  Nothing here imports Qt.
"""
