"""What `fab doctor` reads on a host, in one SSH exchange, changing nothing.

The engine's version, free disk, the deploy lock's owner, what listens on the agent's port, every
container (name, role, state), and for each agent container (by name, or publishing the port) its
state, restart count, the ports its process listens on inside its network, the last log lines,
the last heartbeat line, and the environment: PORT as is, each secret as its SHA-256 only, so no
token value ever leaves the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tasks.runner import Remote

SECRETS = ("DTMA_BEARER_TOKEN", "BACKEND_TO_DTMA_API_KEY", "AGENTOPIA_API_BASE_URL")
LOG_LINES = 12
# Log lines that name a cause of their own (DTMA-CONTRACT.md, "Why earlier DTMA deployments
# answered 500"): Docker refusing a user's tool name as a container name.
SIGNATURES = ("invalid container name",)

FACTS = """\
port=$1 lock_dir=$2 tail=$3 signatures=$4; shift 4
command -v docker >/dev/null || { echo 'no docker command on the host' >&2; exit 127; }
echo "docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
echo "disk=$({ df -Pk /var/lib/docker 2>/dev/null || df -Pk /; } | awk 'NR==2 {print $2, $4}')"
[ -d "$lock_dir" ] && echo "lock=$(head -c 4000 "$lock_dir/owner" 2>/dev/null | tr -d '\\n')"
echo "holders=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o '(("[^"]*"' | tr -d '("' |
  sort -u | tr '\\n' ' ')"
ids=$(docker ps -aq 2>/dev/null)
[ -n "$ids" ] || exit 0
labels='{{with .Config.Labels}}{{index . "dtma.role"}}|{{index . "agentopia.managed_by"}}{{end}}'
binds='{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostPort}} {{end}}{{end}}'
docker inspect --format "{{.Name}}|$binds|{{.State.Status}}|$labels" $ids </dev/null |
while IFS='|' read -r name ports state role managed; do
  name=${name#/}
  echo "container=$name|$state|$role|$managed"
  agent=
  for want in "$@"; do [ "$name" = "$want" ] && agent=1; done
  for p in $ports; do [ "$p" = "$port" ] && agent=1; done
  [ -n "$agent" ] || continue
  at="agent:$name"
  echo "$at:ports=$ports"
  echo "$at:state=$(docker inspect --format '{{.State.Status}}|{{.State.Running}}|\
{{.State.Restarting}}|{{.State.ExitCode}}|{{.RestartCount}}|{{.State.Pid}}|{{.Config.Image}}|\
{{.HostConfig.NetworkMode}}|{{with .Config.Labels}}{{index . "dtma.version"}}|\
{{index . "dtma.deployed_at"}}{{end}}' \
    "$name" </dev/null)"
  docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$name" </dev/null |
  while IFS= read -r pair; do
    key=${pair%%=*} value=${pair#*=}
    case $key in
      PORT) echo "$at:env=PORT=$value" ;;
      DTMA_BEARER_TOKEN|BACKEND_TO_DTMA_API_KEY|AGENTOPIA_API_BASE_URL)
        [ -z "$value" ] || echo "$at:env=$key=$(printf %s "$value" | sha256sum | cut -c1-64)" ;;
    esac
  done
  pid=$(docker inspect --format '{{.State.Pid}}' "$name" </dev/null)
  [ "${pid:-0}" = 0 ] || echo "$at:listens=$(awk 'FNR > 1 && $4 == "0A" {
    print substr($2, length($2) - 3) }' /proc/"$pid"/net/tcp /proc/"$pid"/net/tcp6 2>/dev/null |
    sort -u | tr '\\n' ' ')"
  logs=$(docker logs --tail 1000 "$name" 2>&1 </dev/null)
  printf '%s\n' "$logs" | tail -n "$tail" | while IFS= read -r line; do echo "$at:log=$line"; done
  echo "$at:heartbeat=$(printf '%s\n' "$logs" | grep -i heartbeat | tail -n 1)"
  echo "$at:signature=$(printf '%s\n' "$logs" | grep -i -F -e "$signatures" | tail -n 1)"
done
"""


@dataclass(frozen=True)
class AgentContainer:
    """A container that is, or claims to be, the droplet's agent."""

    name: str
    status: str = ""  # Docker's word: running, restarting, exited, created, …
    running: bool = False
    restarting: bool = False
    exit_code: int = 0
    restart_count: int = 0
    image: str = ""
    network_mode: str = ""
    version: str = ""  # its dtma.version label (our image's, or our deploy's)
    released: bool = False  # a release this tool made (labelled at `docker run`)
    published: tuple[int, ...] = ()  # host ports it binds
    listens: tuple[int, ...] = ()  # ports its process listens on, in its own network
    env: dict[str, str] = field(default_factory=dict)  # PORT; secrets as SHA-256 hex
    log: tuple[str, ...] = ()  # the last lines, as written (mask before showing)
    heartbeat: str = ""  # the last log line about the heartbeat
    signature: str = ""  # the last log line naming a known cause (SIGNATURES)

    @property
    def ours(self) -> bool:
        return self.released

    @property
    def crash_looping(self) -> bool:
        return self.restarting or (not self.running and self.restart_count > 0)

    def port_inside(self, default: int) -> int:
        """The port its agent is told to listen on (PORT, else the agent's default)."""
        value = self.env.get("PORT", "")
        return int(value) if value.isdigit() else default


@dataclass(frozen=True)
class Listed:
    name: str
    state: str
    role: str  # dtma.role: agent, forwarder, … ("" on a tool or a container not ours)
    managed: bool  # agentopia.managed_by=dtma: a tool of our agent's


@dataclass(frozen=True)
class HostFacts:
    docker_version: str = ""
    disk_total: int | None = None  # bytes, on the Docker data root (or /)
    disk_free: int | None = None
    lock: str | None = None  # the lock owner file's text; None when no lock is held
    holders: tuple[str, ...] = ()  # commands listening on the agent's port (ss -p)
    containers: tuple[Listed, ...] = ()
    agents: tuple[AgentContainer, ...] = ()

    def agent(self, names: Sequence[str]) -> AgentContainer | None:
        """The agent the backend reaches: a running one first, by the order of `names`."""
        ranked = sorted(
            self.agents,
            key=lambda a: (not a.running, names.index(a.name) if a.name in names else len(names)),
        )
        return ranked[0] if ranked else None


def _label(text: str) -> str:
    return "" if text.strip() == "<no value>" else text.strip()


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(word) for word in text.split() if word.isdigit())


def _agent(name: str, fields: dict[str, list[str]]) -> AgentContainer:
    def one(key: str) -> str:
        return (fields.get(key) or [""])[-1]

    state = one("state").split("|") + [""] * 10
    env = dict(pair.split("=", 1) for pair in fields.get("env", []) if "=" in pair)
    return AgentContainer(
        name=name,
        status=state[0],
        running=state[1] == "true",
        restarting=state[2] == "true",
        exit_code=int(state[3]) if state[3].lstrip("-").isdigit() else 0,
        restart_count=int(state[4]) if state[4].isdigit() else 0,
        image=state[6],
        network_mode=state[7],
        version=_label(state[8]),
        released=bool(_label(state[9])),
        published=_ints(one("ports")),
        listens=tuple(sorted({int(h, 16) for h in one("listens").split() if h})),
        env=env,
        log=tuple(fields.get("log", [])),
        heartbeat=one("heartbeat"),
        signature=one("signature"),
    )


def parse_facts(text: str) -> HostFacts:
    values: dict[str, str] = {}
    containers: list[Listed] = []
    agents: dict[str, dict[str, list[str]]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.startswith("agent:"):
            _, name, what = key.split(":", 2)
            agents.setdefault(name, {}).setdefault(what, []).append(value)
        elif key == "container":
            name, state, role, managed = (value.split("|") + [""] * 4)[:4]
            containers.append(Listed(name, state, role, managed == "dtma"))
        else:
            values[key] = value
    disk = _ints(values.get("disk", ""))
    return HostFacts(
        docker_version=values.get("docker", ""),
        disk_total=disk[0] * 1024 if len(disk) == 2 else None,
        disk_free=disk[1] * 1024 if len(disk) == 2 else None,
        lock=values.get("lock"),
        holders=tuple(values.get("holders", "").split()),
        containers=tuple(containers),
        agents=tuple(_agent(name, fields) for name, fields in agents.items()),
    )


def facts_argv(port: int, lock_dir: str, names: Sequence[str]) -> list[str]:
    signatures = "\n".join(SIGNATURES)
    return [
        "sh",
        "-c",
        FACTS,
        "dtma-doctor",
        str(port),
        lock_dir,
        str(LOG_LINES),
        signatures,
        *names,
    ]


def read_facts(remote: Remote, port: int, lock_dir: str, names: Sequence[str], wait: float):
    """The host's facts; a DeployError (step "doctor") when SSH fails or the host is silent."""
    argv = facts_argv(port, lock_dir, names)
    return parse_facts(remote.run(argv, step="doctor", timeout=wait).stdout)
