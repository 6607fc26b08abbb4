"""Wire-format models of rankstream (pydantic v2) and their exported JSON Schemas.

The package never imports ``streams``: the dependency points one way. ``schemas.timefmt``
and ``schemas.rules`` are standard-library only, so the engine may import them; the
pydantic models live in their own modules (``schemas.score_event`` ...), which this
``__init__`` does not import, so that importing a pure module never loads pydantic.
"""
