"""The three questions that need a shell program, each one fixed POSIX script.

A script is a constant: the values it works on (container name, paths, ports) go in as its
positional parameters, so they are quoted once at the edge like every other argv word and
never become part of the program. Each prints `key=value` lines (or JSON) parsed in facts/.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.commands.shell import Argv
from tasks.identity import INSPECT_FORMAT

# Written by SURVEY itself (kept in step with it by tests/deploy/commands/test_scripts.py).
NO_DOCKER = "no docker command on the host"
UNKNOWN_OWNER = "unknown"  # the lock directory exists without an owner file

# Every query at once (each `docker` call is ~50 ms of client start-up): each prints one
# short line in a single write, so the lines never interleave; their order does not matter.
SURVEY = """\
command -v docker >/dev/null || { echo 'no docker command on the host' >&2; exit 127; }
container=$1 image=$2 env_file=$3 lock_dir=$4 image_format=$5
shift 5
health='{{if .State.Health}}{{.State.Health.Status}}{{end}}'
{ echo "docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"; } &
{ echo "running=$(docker container inspect --format \
"{{.Image}} {{.State.Running}} {{.Config.Image}} {{.HostConfig.NetworkMode}} $health" \
"$container" 2>/dev/null)"; } &
{ echo "target=$(docker image inspect --format "{{.Id}} $image_format" "$image" 2>/dev/null)"; } &
{ echo "store=$(docker info --format '{{.Driver}}|{{json .DriverStatus}}' 2>/dev/null)"; } &
{ echo "machine=$(uname -m)"; } &
{ echo "env=$(sha256sum "$env_file" 2>/dev/null | cut -d' ' -f1)"; } &
{ echo "lock=$(cat "$lock_dir/owner" 2>/dev/null || { [ -d "$lock_dir" ] && echo unknown; })"; } &
{ echo "free=$({ df -Pk /var/lib/docker 2>/dev/null || df -Pk /; } \
| awk 'NR==2 {print $4}')"; } &
# Who claims each port: running or restarting containers (a crash loop is missed by
# `docker ps --filter publish`), by their configured port bindings.
{ ids=$(docker ps -q --filter status=running --filter status=restarting 2>/dev/null)
  ports='{{range $p, $b := .HostConfig.PortBindings}}{{range $b}} {{.HostPort}}{{end}}{{end}}'
  claims=$([ -z "$ids" ] || docker inspect --format "{{.Name}}$ports" $ids)
  for port in "$@"; do
    echo "publish$port=$(echo "$claims" | awk -v p="$port" \
'{ for (i = 2; i <= NF; i++) if ($i == p) { sub("^/", "", $1); printf "%s ", $1; break } }')"
  done; } &
for port in "$@"; do
  { echo "listen$port=$(ss -Hltn "sport = :$port" 2>/dev/null | wc -l)"; } &
done
wait
"""

# The stability window in one round trip: the restart count, then the image's health check run
# while the window elapses (sleep in the background), then the container's state as JSON.
SETTLE_PROBE = """\
name=$1 settle=$2
shift 2
echo "restarts=$(docker container inspect --format '{{.RestartCount}}' "$name")"
sleep "$settle" & waiter=$!
if [ $# -gt 0 ]; then "$@" >/dev/null 2>&1; echo "healthcheck=$?"; else echo healthcheck=none; fi
wait $waiter
docker container inspect "$name"
"""

# Every image's layer list (of repository $1 when given); prints nothing when there is none.
HOST_LAYERS = """\
ids=$(docker image ls -aq --no-trunc $1 | sort -u)
[ -z "$ids" ] || docker image inspect --format '{{json .RootFS.Layers}}' $ids"""


def survey(
    *, container: str, image_ref: str, env_file: str, lock_dir: str, ports: Sequence[int]
) -> Argv:
    """Prints `key=value` lines (see facts/survey.py); exits 127 when there is no docker."""
    params = [container, image_ref, env_file, lock_dir, INSPECT_FORMAT, *map(str, ports)]
    return ["sh", "-c", SURVEY, "dtma-survey", *params]


def settle_probe(name: str, settle: float, healthcheck: Sequence[str] | None) -> Argv:
    """Prints `restarts=N`, `healthcheck=EXIT|none`, then the inspect JSON."""
    return ["sh", "-c", SETTLE_PROBE, "dtma-settle", name, f"{settle:.2f}", *(healthcheck or ())]


def host_layers(repository: str | None = None) -> Argv:
    return ["sh", "-c", HOST_LAYERS, "dtma-layers", *([repository] if repository else [])]


# Which containers link to container $1 (`--link $1:alias`): "name alias" lines.
LINKED_TO = """\
ids=$(docker ps -aq)
[ -z "$ids" ] || docker inspect --format '{{.Name}} {{join .HostConfig.Links " "}}' $ids |
while read -r name links; do
  for link in $links; do
    case "$link" in "/$1:"*) echo "${name#/} ${link##*/}" ;; esac
  done
done"""

# Docker re-resolves links by name only when the engine starts: restart it with live-restore on,
# so every container keeps running meanwhile. Refuses (exit 3) rather than stop containers.
RESTART_ENGINE = """\
conf=/etc/docker/daemon.json
if [ "$(docker info --format '{{.LiveRestoreEnabled}}')" != true ]; then
  if [ ! -s "$conf" ]; then
    mkdir -p /etc/docker && echo '{"live-restore": true}' >"$conf"
  elif command -v python3 >/dev/null; then
    python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["live-restore"]=True
json.dump(d, open(p + ".tmp", "w"), indent=2)' "$conf" && mv "$conf.tmp" "$conf" || exit 3
  else
    echo "$conf exists and there is no python3 to add live-restore to it" >&2; exit 3
  fi
  kill -HUP "$(cat /var/run/docker.pid)"
  i=0; until [ "$(docker info --format '{{.LiveRestoreEnabled}}')" = true ]; do
    i=$((i+1)); [ $i -lt 100 ] || { echo "the engine did not turn live-restore on" >&2; exit 3; }
    sleep 0.1
  done
fi
# Only systemd brings an engine back for sure: without its unit, nothing is stopped (exit 5).
command -v systemctl >/dev/null && systemctl is-active -q docker 2>/dev/null ||
  { echo "the engine is not run by systemd's docker unit" >&2; exit 5; }
systemctl restart docker
i=0
until docker version >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 600 ] || { echo "the engine did not come back within 60 s" >&2; exit 4; }
  sleep 0.1
done"""

# Exit 0 when systemd's docker unit runs the engine (so it can restart it), else non-zero.
ENGINE_UNDER_SYSTEMD = "command -v systemctl >/dev/null && systemctl is-active -q docker"


# Until something listens on TCP port $1 of the host (its own network namespace), checking every
# second that container $2 still runs; exit 3 when it stopped, 4 after $3 seconds. With $4 =
# owned, every listener on the port must then belong to container $2 (its main process, a child
# of it, or a docker-proxy publishing its address), else exit 5 (also when $2 has exited: what
# listens is then surely not it): a credential goes only to a port proven so, never to a tool.
# With $4 = holds, it waits until one of the listeners belongs to $2 (beside others sharing the
# port): the new agent of a handover serves there.
WAIT_LISTENING = """\
hex=$(printf ':%04X' "$1")
listeners() {
  awk -v p="$hex" 'FNR > 1 && $4 == "0A" && toupper(substr($2, length($2) - 4)) == p {
    print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
pids_of() {
  pid=$(docker container inspect --format '{{.State.Pid}}' "$2" 2>/dev/null)
  ips=$(docker container inspect "$2" \
    --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' 2>/dev/null)
  pids="$pid $(cat /proc/"$pid"/task/*/children 2>/dev/null)"
  for comm in $(grep -lx docker-proxy /proc/[0-9]*/comm 2>/dev/null); do
    proxy=${comm%/comm}
    for ip in $ips; do
      tr '\\0' ' ' <"$proxy/cmdline" | grep -q -- "-container-ip $ip " &&
        pids="$pids ${proxy#/proc/}"
    done
  done
}
held() {
  fds=$(for p in $pids; do ls -l /proc/"$p"/fd 2>/dev/null; done)
  echo "$fds" | grep -q "socket:\\[$1\\]"
}
holds_one() {
  for inode in $(listeners); do held "$inode" && return 0; done
  return 1
}
[ "$4" = holds ] && pids_of "$@"
i=0
until if [ "$4" = holds ]; then holds_one; else [ -n "$(listeners)" ]; fi; do
  i=$((i+1))
  if [ $((i % 20)) -eq 0 ]; then
    [ "$(docker container inspect --format '{{.State.Running}}' "$2" 2>/dev/null)" = true ] ||
      { echo "container $2 is not running" >&2; exit 3; }
  fi
  [ $i -lt $(($3 * 20)) ] || {
    if [ "$4" = holds ]; then echo "container $2 does not listen on port $1 after $3 s" >&2
    else echo "nothing listens on port $1 after $3 s" >&2; fi
    exit 4
  }
  sleep 0.05
done
[ "$4" = owned ] || exit 0
pids_of "$@"
for inode in $(listeners); do
  held "$inode" || {
    echo "port $1 is held by a process outside container $2 (a tool publishing it?):" \
      "no credential was sent to it" >&2
    exit 5
  }
done"""


def wait_listening(port: int, container: str, seconds: float, mode: str = "") -> Argv:
    """`mode`: "" (anything listens), "owned" or "holds" (see WAIT_LISTENING)."""
    argv = ["sh", "-c", WAIT_LISTENING, "dtma-wait-port", str(port), container, f"{seconds:.0f}"]
    return [*argv, mode] if mode else argv


# Containers $2, $4, … link to container $1 as aliases $3, $5, …: each one's hosts file (kept in
# place: it is bind-mounted) gets one line for $1's address under the alias, as Docker writes it.
LINK_HOSTS = """\
target=$1; shift
ip=$(docker inspect --format '{{.NetworkSettings.IPAddress}}' "$target") || exit 1
short=$(docker inspect --format '{{printf "%.12s" .Id}}' "$target") || exit 1
while [ $# -ge 2 ]; do
  who=$1 alias=$2; shift 2
  hosts=$(docker inspect --format '{{.HostsPath}}' "$who") || continue
  awk -v a="$alias" -v t="$target" \
    '{ for (i = 2; i <= NF; i++) if ($i == a || $i == t) next; print }' "$hosts" >"$hosts.dtma"
  printf '%s\t%s %s %s\n' "$ip" "$alias" "$short" "$target" >>"$hosts.dtma"
  cat "$hosts.dtma" >"$hosts" && rm -f "$hosts.dtma"
done"""


def link_hosts(target: str, pairs: Sequence[str]) -> Argv:
    return ["sh", "-c", LINK_HOSTS, "dtma-link-hosts", target, *pairs]


# Remove container $1 if it exists and was never promoted (restart policy still "no").
REMOVE_UNPROMOTED = """\
policy=$(docker container inspect --format '{{.HostConfig.RestartPolicy.Name}}' "$1" 2>/dev/null)
[ "$policy" != no ] || docker rm --force "$1" >/dev/null"""


def remove_unpromoted(name: str) -> Argv:
    return ["sh", "-c", REMOVE_UNPROMOTED, "dtma-remove-candidate", name]


def linked_to(name: str) -> Argv:
    return ["sh", "-c", LINKED_TO, "dtma-linked", name]


def engine_under_systemd() -> Argv:
    return ["sh", "-c", ENGINE_UNDER_SYSTEMD]


def restart_engine() -> Argv:
    return ["sh", "-c", RESTART_ENGINE]


CHECKSUM_DIFFERS = 65  # exit code of load_staged when the staged archive is not the one sent
# The staged archive $1: its sha256 must be $3; renamed to $2 (so a cut transfer's `.part` is
# never loaded), loaded, removed whatever the load said. Prints what docker load said, then
# "identity=" and what a fingerprint reads of image $4 (format $5) as the host now has it.
LOAD_STAGED = f"""\
[ "$(sha256sum "$1" | cut -d ' ' -f 1)" = "$3" ] ||
  {{ rm -f "$1"; echo "staged archive differs from the sent one" >&2; exit {CHECKSUM_DIFFERS}; }}
mv "$1" "$2" || exit 1
docker load -i "$2" 2>&1; code=$?
rm -f "$2"
echo "identity=$(docker image inspect --format "$5" "$4" 2>/dev/null)"
exit $code"""


def load_staged(part: str, final: str, sha256: str, image_ref: str) -> Argv:
    argv = ["sh", "-c", LOAD_STAGED, "dtma-load", part, final, sha256, image_ref]
    return [*argv, INSPECT_FORMAT]
