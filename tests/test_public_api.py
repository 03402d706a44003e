import subprocess
import sys

import bgpcore


def test_every_public_name_resolves() -> None:
    for name in bgpcore.__all__:
        assert getattr(bgpcore, name) is not None, name


def test_importing_the_codec_does_not_load_the_speaker_or_netlink() -> None:
    code = "import sys, bgpcore.wire.update; print(sorted(m for m in sys.modules if m.startswith('bgpcore.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "bgpcore.wire.update" in loaded
    for heavy in ("bgpcore.transport", "bgpcore.fib", "bgpcore.rib", "asyncio"):
        assert f"'{heavy}" not in loaded
