"""The three questions that need a shell program, each one fixed POSIX script.

A script is a constant: the values it works on (container name, paths, ports) go in as its
positional parameters, so they are quoted once at the edge like every other argv word and
never become part of the program. Each prints `key=value` lines (or JSON) parsed in facts/.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.commands.shell import Argv

# Written by SURVEY itself (kept in step with it by tests/deploy/commands/test_scripts.py).
NO_DOCKER = "no docker command on the host"
UNKNOWN_OWNER = "unknown"  # the lock directory exists without an owner file

# Every query at once (each `docker` call is ~50 ms of client start-up): each prints one
# short line in a single write, so the lines never interleave; their order does not matter.
SURVEY = """\
command -v docker >/dev/null || { echo 'no docker command on the host' >&2; exit 127; }
container=$1 image=$2 env_file=$3 lock_dir=$4
shift 4
health='{{if .State.Health}}{{.State.Health.Status}}{{end}}'
{ echo "docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"; } &
{ echo "running=$(docker container inspect --format \
"{{.Image}} {{.State.Running}} {{.Config.Image}} $health" "$container" 2>/dev/null)"; } &
{ echo "target=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null)"; } &
{ echo "env=$(sha256sum "$env_file" 2>/dev/null | cut -d' ' -f1)"; } &
{ echo "lock=$(cat "$lock_dir/owner" 2>/dev/null || { [ -d "$lock_dir" ] && echo unknown; })"; } &
{ echo "free=$({ df -Pk /var/lib/docker 2>/dev/null || df -Pk /; } \
| awk 'NR==2 {print $4}')"; } &
for port in "$@"; do
  { echo "publish$port=$(docker ps --filter "publish=$port" --format '{{.Names}}' \
| tr '\\n' ' ')"; } &
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

# Every image's layer list; prints nothing when the host has no image.
HOST_LAYERS = """\
ids=$(docker image ls -aq --no-trunc | sort -u)
[ -z "$ids" ] || docker image inspect --format '{{json .RootFS.Layers}}' $ids"""


def survey(
    *, container: str, image_ref: str, env_file: str, lock_dir: str, ports: Sequence[int]
) -> Argv:
    """Prints `key=value` lines (see facts/survey.py); exits 127 when there is no docker."""
    params = [container, image_ref, env_file, lock_dir, *(str(port) for port in ports)]
    return ["sh", "-c", SURVEY, "dtma-survey", *params]


def settle_probe(name: str, settle: float, healthcheck: Sequence[str] | None) -> Argv:
    """Prints `restarts=N`, `healthcheck=EXIT|none`, then the inspect JSON."""
    return ["sh", "-c", SETTLE_PROBE, "dtma-settle", name, f"{settle:.2f}", *(healthcheck or ())]


def host_layers() -> Argv:
    return ["sh", "-c", HOST_LAYERS]
