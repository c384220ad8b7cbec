"""From what the backend would get and what the host shows, the cause and the command that fixes
it. Pure: no host, no network. The causes follow DTMA-CONTRACT.md's "Why earlier DTMA
deployments answered 500", plus what a droplet can suffer any day (engine, disk, lock)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.doctor import backend_view as view
from tasks.doctor.backend_view import BackendView
from tasks.doctor.host_facts import AgentContainer, HostFacts
from tasks.doctor.masked import Masker
from tasks.steps.lock import LockOwner, is_stale
from tasks.units import human_bytes

FULL_DISK_BYTES = 100 * 1024 * 1024
BACKEND_CONTAINER = "agentopia_backend"  # Agentopia's provisioning runs it beside the agent
HEARTBEAT_FAILED = ("failed", "rejected", "answered", "disabled", "failure")
VIEW_CAUSES = {view.SHAPE: "status-shape", view.WORDS: "status-words", view.MINIMAL: "old-agent"}


@dataclass(frozen=True)
class Finding:
    cause: str  # a short name: crash-loop, wrong-port, backend-key, …
    words: str
    fix: str
    error: bool = True  # the backend's refresh would fail or mis-read the answer

    def to_json(self) -> dict[str, object]:
        return {"cause": self.cause, "words": self.words, "fix": self.fix, "error": self.error}


@dataclass(frozen=True)
class Reference:
    """What the operator says the backend holds: the secrets' SHA-256 (and where from)."""

    source: str = ""  # "env file .env", "the host's /etc/dtma/dtma.env", "" when unknown
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """Everything known of one host."""

    host: str  # as given to -H: fix commands name it so
    port: int
    names: tuple[str, ...]  # the agent's container names, ours first (dtma, dtma_manager)
    env_option: str  # how a fix command passes the tokens: --env-file FILE or --env-from-host
    backend: BackendView | None = None
    facts: HostFacts | None = None
    ssh_error: str = ""
    ssh_hint: str = ""  # what to do about it, when SSH said
    owned: bool = True  # what listens on the port is the agent's (else no key was sent)
    reference: Reference = field(default_factory=Reference)
    lock_ttl: float = 900.0
    now: float = 0.0


class Doctor:
    def __init__(self, case: Case, masker: Masker) -> None:
        self.case, self.mask = case, masker
        self.findings: list[Finding] = []
        self.failing = case.backend is None or case.backend.kind != view.OK

    def fab(self, task: str) -> str:
        return f"fab -H {self.case.host} {task}"

    def redeploy(self, agent: AgentContainer | None) -> str:
        if agent is not None and not agent.ours:
            return self.fab("deploy --adopt --env-from-host")
        return self.fab(f"deploy {self.case.env_option}")

    def add(self, cause: str, words: str, fix: str, error: bool = True) -> None:
        self.findings.append(Finding(cause, words, fix, error))

    def last_log(self, agent: AgentContainer) -> str:
        lines = [line for line in agent.log if line.strip()]
        return f"; last log: {self.mask.line(lines[-1])}" if lines else ""

    def examine(self) -> list[Finding]:
        c = self.case
        if c.facts is None:
            self.add(
                "unreachable",
                f"SSH: {c.ssh_error}" + (f"; the agent: {c.backend.words}" if c.backend else ""),
                c.ssh_hint or f"check the droplet is up and takes your key (ssh {c.host})",
                error=self.failing,
            )
            return self.findings
        if not c.facts.docker_version:
            self.add(
                "engine-down",
                "the Docker engine does not answer",
                f"ssh {c.host} systemctl start docker",
                self.failing,
            )
        self.disk(c.facts)
        agent = c.facts.agent(c.names)
        if agent is None:
            self.no_agent(c.facts)
        elif not self.stopped(agent) and not self.wrong_port(agent):
            self.answering(agent, c.facts)
        if agent is not None:
            self.secondary(agent)
        self.lock(c.facts)
        return self.findings

    def disk(self, facts: HostFacts) -> None:
        if facts.disk_free is not None and facts.disk_free < FULL_DISK_BYTES:
            total = human_bytes(facts.disk_total or 0)
            self.add(
                "disk-full",
                f"disk full: {human_bytes(facts.disk_free)} free of {total}",
                f"{self.fab('prune')} (old agent images), then `docker system prune` on the host",
                self.failing,
            )

    def no_agent(self, facts: HostFacts) -> None:
        port = self.case.port
        if facts.holders:
            words = f"port {port} is held by {', '.join(facts.holders)}, no agent container"
            self.add(
                "port-taken",
                words,
                f"free port {port} (ss -ltnp 'sport = :{port}'), then {self.redeploy(None)}",
            )
        else:
            self.add("no-agent", f"no agent container on port {port}", self.redeploy(None))

    def stopped(self, agent: AgentContainer) -> bool:
        """Not running, or restarting (between two runs of a crash loop: --restart always)."""
        seen = self.case.backend
        caught_running = agent.restart_count > 0 and seen is not None and not seen.answered
        if agent.running and not agent.restarting and not caught_running:
            return False
        fix = self.fab("rollback") if agent.ours else self.redeploy(agent)
        if agent.crash_looping or caught_running:
            words = (
                f"{agent.name} is crash-looping (restarted {agent.restart_count} times, "
                f"exit code {agent.exit_code})"
            )
            self.add("crash-loop", words + self.last_log(agent), fix)
        else:
            words = f"{agent.name} is {agent.status or 'not running'} (exit code {agent.exit_code})"
            self.add("agent-stopped", words + self.last_log(agent), fix)
        return True

    def wrong_port(self, agent: AgentContainer) -> bool:
        port = self.case.port
        if not agent.listens or port in agent.listens:
            return False
        inside = agent.port_inside(port)
        where = ", ".join(map(str, agent.listens))
        words = (
            f"{agent.name} listens on {where} inside its container (PORT={inside}), but the "
            f"backend calls port {port}: nothing answers there"
        )
        self.add("wrong-port", words, self.redeploy(agent))
        return True

    def answering(self, agent: AgentContainer, facts: HostFacts) -> None:
        c, seen = self.case, self.case.backend
        if seen is None:
            return
        if not c.owned:
            self.add(
                "port-taken",
                f"port {c.port} is held by a process outside {agent.name} (a tool?): the "
                "backend's key would go to it; none was sent",
                f"find it with `ss -ltnp 'sport = :{c.port}'` on the host and stop it",
            )
            return
        if seen.kind == view.AUTH:
            self.key_refused(agent, seen)
            return
        if not seen.answered:
            self.add(
                "no-answer",
                f"the agent answers {seen.words}" + self.last_log(agent),
                self.redeploy(agent) if not agent.ours else self.fab("rollback"),
            )
            return
        if seen.kind == view.MISCONFIGURED:
            self.add(
                "misconfigured", seen.words, f"{self.redeploy(agent)} (with those variables set)"
            )
            return
        if agent.signature and not agent.ours:
            words = (
                f"{agent.name}'s log shows Docker refusing a tool name "
                f"({self.mask.line(agent.signature)}): this agent uses users' tool names "
                "(spaces, capitals) as container names"
            )
            self.add("tool-names", words, self.redeploy(agent))
        self.unreported_tools(agent, facts, seen)
        if seen.kind in VIEW_CAUSES:
            words = seen.words
            if not seen.ours:
                version = seen.body.get("version") or "?"
                old = f"an old {agent.name} ({agent.image}, version {version})"
                words = f"{old}, not this project's agent: {words}"
            self.add(VIEW_CAUSES[seen.kind], words, self.redeploy(agent))
        elif seen.kind == view.DEGRADED:
            self.add("degraded", seen.words, f"ssh {c.host} systemctl restart docker")
        elif not agent.ours and not self.findings:
            words = f"{agent.name} ({agent.image}) answers but was not deployed by this tool"
            self.add("not-ours", words, self.redeploy(agent), error=False)

    def key_refused(self, agent: AgentContainer, seen: BackendView) -> None:
        ref = self.case.reference
        theirs = agent.env.get("BACKEND_TO_DTMA_API_KEY", "")
        mine = ref.hashes.get("BACKEND_TO_DTMA_API_KEY", "")
        if not seen.keyed:
            words = f"{seen.words}; no backend key to check it with"
            self.add("backend-key", words, f"give {self.case.env_option} with the backend's key")
        elif theirs and theirs != mine:
            words = (
                f"{seen.words}: {agent.name} runs with another BACKEND_TO_DTMA_API_KEY than "
                f"{ref.source} holds"
            )
            self.add(
                "backend-key",
                words,
                f"{self.fab('deploy ' + self.case.env_option)} (holding the backend's key)",
            )
        else:
            words = (
                f"{seen.words}, though {agent.name} runs with that very key: it checks "
                "another token"
            )
            self.add("backend-key", words, self.redeploy(agent))

    def unreported_tools(self, agent: AgentContainer, facts: HostFacts, seen: BackendView) -> None:
        reported = {
            str(item.get(k, ""))
            for item in seen.body.get("tool_instances") or []
            if isinstance(item, dict)
            for k in ("container_id", "instance_name_on_toolbox")
        }
        agents = {a.name for a in facts.agents} | set(self.case.names)
        tools = [
            t.name
            for t in facts.containers
            if (t.managed or (not agent.ours and not t.role))
            and t.name not in agents | {BACKEND_CONTAINER}
            and not any(r.startswith(t.name) or t.name.startswith(r) for r in reported if r)
        ]
        if tools:
            words = (
                f"{len(tools)} tool container(s) on the host that {agent.name} does not report "
                f"({', '.join(tools[:3])}): its start, stop and delete answer 404 for them"
            )
            self.add("tools-unreported", words, self.redeploy(agent))

    def secondary(self, agent: AgentContainer) -> None:
        ref = self.case.reference
        theirs, mine = (
            agent.env.get("DTMA_BEARER_TOKEN", ""),
            ref.hashes.get("DTMA_BEARER_TOKEN", ""),
        )
        if theirs and mine and theirs != mine:
            self.add(
                "token",
                f"{agent.name} runs with another DTMA_BEARER_TOKEN than {ref.source} holds: "
                "the backend rejects its heartbeats",
                f"{self.fab('deploy ' + self.case.env_option)} (holding the droplet's token)",
                error=False,
            )
        beat = agent.heartbeat.lower()
        if agent.running and any(word in beat for word in HEARTBEAT_FAILED):
            self.add(
                "heartbeat",
                f"heartbeats failing: {self.mask.line(agent.heartbeat)}",
                f"check AGENTOPIA_API_BASE_URL and DTMA_BEARER_TOKEN ({self.fab('logs')})",
                error=False,
            )

    def lock(self, facts: HostFacts) -> None:
        if facts.lock is None:
            return
        owner = LockOwner.from_json(facts.lock)
        held = owner.describe(self.case.now) if owner else "an owner file not of this tool's"
        stale = owner is None or is_stale(owner, self.case.now, self.case.lock_ttl)
        fix = self.fab("deploy --force-unlock") if stale else "wait for that deploy to end"
        self.add("lock", f"a deploy lock is held by {held}", fix, error=False)


def diagnose(case: Case, masker: Masker) -> list[Finding]:
    doctor = Doctor(case, masker)
    found = doctor.examine()
    if doctor.failing and case.backend and not any(f.error for f in found):
        doctor.add("unknown", f"the backend would get {case.backend.words}", doctor.fab("logs"))
    return doctor.findings
