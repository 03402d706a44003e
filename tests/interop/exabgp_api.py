"""ExaBGP API process: copies commands from a FIFO to ExaBGP and logs what ExaBGP reports.

Run by ExaBGP as ``run python3 exabgp_api.py FIFO LOGFILE``.
"""
from __future__ import annotations

import sys
import threading


def _copy_commands(fifo: str) -> None:
    while True:
        with open(fifo) as commands:
            for line in commands:
                sys.stdout.write(line)
                sys.stdout.flush()


def main() -> None:
    fifo, log = sys.argv[1], sys.argv[2]
    threading.Thread(target=_copy_commands, args=(fifo,), daemon=True).start()
    with open(log, "a") as out:
        for line in sys.stdin:
            out.write(line)
            out.flush()


if __name__ == "__main__":
    main()
