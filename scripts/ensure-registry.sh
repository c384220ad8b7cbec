#!/usr/bin/env bash
# Make sure Debian's docker-registry (distribution 2.8) is installed: the publish and
# --registry tests run a real registry with it. Its packaged service is not started: each test
# serves its own on a free port.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "ensure-registry: install docker-registry (Debian package), or distribution's registry binary on PATH" >&2
  exit 1
fi
echo "ensure-registry: installing docker-registry (Debian package)..."
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then  # no service starts during the install
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
