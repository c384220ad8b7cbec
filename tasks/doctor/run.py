"""`fab doctor` over hosts: each examined in its own thread (SSH facts, the backend's one request,
the diagnosis), its line printed as soon as it is known, a count at the end; or one JSON document.

Every wait is bounded: the SSH connect, banner and login by --connect-timeout, the facts and the
request by `wait`; a host that does not answer costs about that, never the others' time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from invoke.exceptions import CommandTimedOut

from tasks import envfile
from tasks.commands import scripts
from tasks.doctor import backend_view
from tasks.doctor.backend_view import BackendView
from tasks.doctor.diagnosis import Case, Finding, Reference, diagnose
from tasks.doctor.host_facts import SECRETS, HostFacts, read_facts
from tasks.doctor.masked import Masker, sha256
from tasks.errors import DeployError
from tasks.runner import Remote
from tasks.settings import DeploySettings, SettingsError
from tasks.steps.adopt import env_from

AGENTOPIA_NAME = "dtma_manager"  # the agent's container on a droplet Agentopia provisioned
MAX_THREADS = 32
OWNED, NOTHING_LISTENS = 0, 4  # exits of scripts.WAIT_LISTENING


@dataclass(frozen=True)
class Operator:
    """What the operator's machine knows: the secrets the backend holds (from the env file), or
    nothing (then --env-from-host reads them on each host, or the check goes without a key)."""

    values: dict[str, str] = field(default_factory=dict, repr=False)
    source: str = ""

    @property
    def key(self) -> str:
        return self.values.get("BACKEND_TO_DTMA_API_KEY", "")

    def reference(self) -> Reference:
        hashes = {key: sha256(value) for key, value in self.values.items() if value}
        return Reference(self.source, hashes)


def operator_of(s: DeploySettings) -> Operator:
    if s.env_from_host or not Path(s.env_file).exists():
        return Operator()
    try:
        env = envfile.parse(Path(s.env_file).read_text(), s.env_file)
    except (OSError, envfile.EnvFileError) as exc:
        raise SettingsError(f"env file {s.env_file}: {exc}") from None
    return Operator({k: env.values.get(k, "") for k in SECRETS}, f"env file {s.env_file}")


@dataclass
class HostReport:
    host: str
    findings: list[Finding]
    backend: BackendView | None
    seconds: float

    @property
    def healthy(self) -> bool:
        return not any(f.error for f in self.findings)

    def line(self) -> str:
        head = f"{self.host:<30} {'healthy' if self.healthy else 'FAILS  '}"
        if not self.findings:
            return f"{head}  {self.backend.words if self.backend else ''}"
        first, *rest = sorted(self.findings, key=lambda f: not f.error)
        lines = [f"{head}  {first.cause}: {first.words}\n{'':<40}fix: {first.fix}"]
        lines += [f"{'':<40}also {f.cause}: {f.words}\n{'':<40}fix: {f.fix}" for f in rest]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        seen = self.backend
        return {
            "host": self.host,
            "healthy": self.healthy,
            "backend": None
            if seen is None
            else {
                "kind": seen.kind,
                "words": seen.words,
                "keyed": seen.keyed,
                "http_status": seen.http_status,
            },
            "findings": [f.to_json() for f in self.findings],
            "seconds": round(self.seconds, 2),
        }


class HostExam:
    """One host's examination, start to end; never raises for what a host can do wrong."""

    def __init__(self, s: DeploySettings, operator: Operator, host: str, url: str) -> None:
        self.s, self.operator, self.host, self.url = s, operator, host, url
        self.names = (s.container, AGENTOPIA_NAME)
        self.wait = max(10.0, s.connect_timeout)

    def from_host(self, remote: Remote, facts: HostFacts) -> Operator:
        """--env-from-host: the installed env file, else the agent container's environment;
        read into memory, never shown."""
        found = remote.run(
            ["cat", self.s.remote_env_file], step="doctor", check=False, timeout=self.wait
        )
        if found.ok:
            env = envfile.parse(found.stdout, self.s.remote_env_file)
            return Operator(
                {k: env.values.get(k, "") for k in SECRETS}, f"the host's {self.s.remote_env_file}"
            )
        agent = facts.agent(self.names)
        if agent is None:
            return Operator()
        try:
            env = env_from(remote, agent.name)
        except DeployError:  # it lacks one of them: the diagnosis says what /status says
            return Operator()
        return Operator(dict(env.values), f"{agent.name}'s environment")

    def owned(self, remote: Remote, facts: HostFacts) -> bool:
        """What listens on the port is the agent's: only then does the backend's key go there."""
        agent = facts.agent(self.names)
        if agent is None or not agent.running:
            return False  # no agent to hold the port: whatever answers there gets no key
        check = scripts.wait_listening(self.s.port, agent.name, 1, "owned")
        done = remote.run(check, step="doctor", check=False, timeout=self.wait)
        return done.exit_code == OWNED or (
            done.exit_code == NOTHING_LISTENS and self.s.port in agent.published
        )

    def run(self, connect: Callable[[str], Remote]) -> HostReport:
        started = time.monotonic()
        operator, facts, owned, remote = self.operator, None, False, None
        error = hint = ""
        try:
            remote = connect(self.host)
            facts = read_facts(remote, self.s.port, self.s.lock_dir, self.names, self.wait)
            if self.s.env_from_host:
                operator = self.from_host(remote, facts)
            owned = self.owned(remote, facts)
        except (DeployError, CommandTimedOut, envfile.EnvFileError) as exc:
            facts, (error, hint) = None, reason(exc)
        finally:
            if remote is not None:
                remote.close()
        # The key goes only where SSH showed the agent holds the port (never without SSH).
        seen = backend_view.ask(self.url, operator.key if owned else "", self.wait)
        case = Case(
            self.host,
            self.s.port,
            self.names,
            self.env_option(),
            backend=seen,
            facts=facts,
            ssh_error=error,
            ssh_hint=hint,
            owned=owned or facts is None,
            reference=operator.reference(),
            lock_ttl=self.s.lock_ttl,
            now=time.time(),
        )
        agents = facts.agents if facts else ()
        hashes = [agent.env.get(name, "") for agent in agents for name in SECRETS]
        masker = Masker(operator.values.values(), hashes)
        return HostReport(self.host, diagnose(case, masker), seen, time.monotonic() - started)

    def env_option(self) -> str:
        return "--env-from-host" if self.s.env_from_host else f"--env-file {self.s.env_file}"


def reason(exc: BaseException) -> tuple[str, str]:
    """Why the host could not be read, and what to do ("" for the usual advice)."""
    if isinstance(exc, CommandTimedOut):
        return f"the host did not answer within {exc.timeout:.0f} s", ""
    if isinstance(exc, DeployError):
        return exc.cause, exc.hint
    return str(exc), ""


def examine_all(
    s: DeploySettings,
    hosts: list[str],
    url_of: Callable[[str], str],
    connect: Callable[[str], Remote],
    say: Callable[[str], None],
) -> list[HostReport]:
    """Every host at once (up to MAX_THREADS); `say` gets each host's line as it is known."""
    operator = operator_of(s)
    reports: dict[str, HostReport] = {}
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(hosts))) as pool:
        running = {pool.submit(HostExam(s, operator, h, url_of(h)).run, connect): h for h in hosts}
        for done in as_completed(running):
            report = done.result()
            reports[running[done]] = report
            say(report.line())
    return [reports[h] for h in hosts]


def counted(reports: list[HostReport], seconds: float) -> str:
    failing = sum(not r.healthy for r in reports)
    return (
        f"doctor: {len(reports)} host(s) in {seconds:.1f} s: {len(reports) - failing} healthy, "
        f"{failing} would answer the backend with an error"
    )


def as_json(reports: list[HostReport], seconds: float) -> str:
    failing = sum(not r.healthy for r in reports)
    document = {
        "hosts": [r.to_json() for r in reports],
        "healthy": len(reports) - failing,
        "failing": failing,
        "seconds": round(seconds, 2),
    }
    return json.dumps(document, indent=2)
