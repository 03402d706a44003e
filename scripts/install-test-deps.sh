#!/usr/bin/env bash
# Debian packages the test suite drives: the peers (FRR, BIRD, GoBGP, ExaBGP), independent
# decoders (tshark, tcpdump, bgpdump) and the namespace tools (iproute2; nftables for silent
# link drops). Needs root; a no-op when all are present already. Package services are kept
# from starting (policy-rc.d exits 101).
set -euo pipefail

PACKAGES=(frr bird2 gobgpd python3-exabgp tshark tcpdump iputils-ping iproute2 bgpdump make nftables pmacct)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "test packages: all present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "test packages missing (${missing[*]}): run as root on Debian to install; interop tests will skip" >&2
    exit 0
fi

printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
