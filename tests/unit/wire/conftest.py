"""Codec tests here run on both hot paths through the ``codec`` fixture (tests/conftest_codec.py)."""
from conftest_codec import codec  # noqa: F401
