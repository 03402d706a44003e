"""Types of the bgpcore_fast._rib extension: the signatures of bgpcore.rib.accel's pure loops."""
from typing import Any, Callable

def group_runs(keys: list[bytes], table: dict[bytes, Any], cache: dict[int, tuple[Any, Any]],
               advertised: dict[bytes, Any], record: bool, per_prefix: bool, destination: type,
               wanted: Callable[[Any, bytes], Any]) -> tuple[list[tuple[Any, list[bytes]]], list[bytes]]: ...
