"""The edge: validation and wire formats, between producers' bytes and the engine.

Imports only :mod:`streams.engine` (and pydantic, through :mod:`schemas`); nothing here
talks to a broker.
"""
