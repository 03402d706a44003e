"""Optional C implementation of bgpcore's UPDATE hot path, built from Cython.

Import it only through ``bgpcore.wire.accel``, which falls back to the pure-Python codec.
"""
