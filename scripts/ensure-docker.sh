#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# On a Debian machine with none running, install Debian's docker.io (and the tools the
# sandbox needs) and start dockerd in the background; elsewhere say what to install.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v ssh >/dev/null 2>&1 || need_apt+=(openssh-client)

if [ ${#need_apt[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker engine answers and this is not a Debian machine where I am root." >&2
    echo "ensure-docker: install and start Docker (https://docs.docker.com/engine/install/), then retry." >&2
    exit 1
  fi
  echo "ensure-docker: installing ${need_apt[*]} (Debian packages)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
fi

if ! docker info >/dev/null 2>&1; then
  echo "ensure-docker: dockerd did not answer within 30 s; see /var/log/dockerd.log" >&2
  tail -n 20 /var/log/dockerd.log >&2 || true
  exit 1
fi
echo "ensure-docker: Docker engine $(docker info --format '{{.ServerVersion}}') is up"
