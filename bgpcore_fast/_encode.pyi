"""Types of the bgpcore_fast._encode extension: the signatures of the pure-Python encoder."""
from bgpcore.wire.context import CodecContext, Family
from bgpcore.wire.types import PathAttributes

def encode_updates(attributes: PathAttributes, family: Family, next_hop: tuple[str, ...], keys: list[bytes],
                   ctx: CodecContext) -> list[bytes]: ...
def encode_withdrawals(family: Family, keys: list[bytes], ctx: CodecContext) -> list[bytes]: ...
