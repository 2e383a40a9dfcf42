"""Kept for locustfiles written against the old layout (``from locustfiles.common import OsirisUser``):
the base user class, the response checks and the request bodies live in ``osiris_load.adapter.users``."""

from osiris_load.adapter.users import *  # noqa: F403
from osiris_load.adapter.users import OsirisUser  # noqa: F401
