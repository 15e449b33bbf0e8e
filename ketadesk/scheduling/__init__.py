"""Pure scheduling logic: time, calendars, protocols, availability and series planning.

Nothing here imports Qt or SQLAlchemy; every function takes plain data and a clock.
"""
