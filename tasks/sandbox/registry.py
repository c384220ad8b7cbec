"""A sandbox registry: Debian's `docker-registry` (distribution 2.8) on this machine, with TLS
from a throwaway CA and, when asked, htpasswd auth; for the tests and the bench (`make registry`
installs it).

It listens on the default bridge's gateway (172.17.0.1), the one address both this machine's
engine and the sandbox droplets (containers on that bridge) reach it by, so an image is pushed
and pulled under one name, as from a registry on the internet. Whoever must trust it gets the
CA in `/etc/docker/certs.d/ADDRESS/ca.crt` (the engine reads it per pull, no restart): this
machine's engine while the registry runs, a droplet's engine through `trust_in`.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import docker
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"  # make registry
CERTS_D = Path("/etc/docker/certs.d")
START_TIMEOUT = 60.0


def free_port(ip: str) -> int:
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def bridge_gateway() -> str:
    network = docker.from_env().networks.get("bridge")
    return network.attrs["IPAM"]["Config"][0]["Gateway"]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_cert(ip: str) -> tuple[bytes, bytes, bytes]:
    """(CA cert, server cert, server key) in PEM, the server's for `ip` and 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("dtma-deploy test CA"))
        .issuer_name(_name("dtma-deploy test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address(a)) for a in {ip, "127.0.0.1"}]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(ip))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}/data
  delete:
    enabled: true
http:
  addr: {ip}:{port}
  tls:
    certificate: {root}/server.crt
    key: {root}/server.key
{auth}"""

AUTH = """\
auth:
  htpasswd:
    realm: dtma-test
    path: {root}/htpasswd
"""


@dataclass(frozen=True)
class Registry:
    address: str  # host:port, as image references name it
    ca_pem: bytes
    folder: Path
    user: str = ""
    password: str = ""

    def repository(self, name: str) -> str:
        return f"{self.address}/{name}"


@contextmanager
def running_registry(folder: Path, *, user: str = "", password: str = "") -> Iterator[Registry]:
    """A registry serving until the block ends; private (htpasswd) when `user` is given."""
    ip = bridge_gateway()
    port = free_port(ip)
    ca, cert, key = make_ca_and_cert(ip)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.crt").write_bytes(cert)
    (folder / "server.key").write_bytes(key)
    (folder / "ca.crt").write_bytes(ca)
    auth = ""
    if user:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()
        (folder / "htpasswd").write_text(f"{user}:{hashed}\n")
        auth = AUTH.format(root=folder)
    config = folder / "config.yml"
    config.write_text(CONFIG.format(root=folder, ip=ip, port=port, auth=auth))
    address = f"{ip}:{port}"
    trust = CERTS_D / address
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=log)
    try:
        trust.mkdir(parents=True, exist_ok=True)
        (trust / "ca.crt").write_bytes(ca)
        (folder / "ca-bundle.crt").write_bytes(ca)

        def answers() -> bool | None:
            if process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited: {(folder / 'registry.log').read_text()[-800:]}"
                )
            try:
                got = requests.get(f"https://{address}/v2/", verify=folder / "ca.crt", timeout=2)
            except requests.RequestException:
                return None
            return got.status_code in (200, 401) or None

        deadline = time.monotonic() + START_TIMEOUT
        while not answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry on {address}: no answer in {START_TIMEOUT} s")
            time.sleep(0.1)
        yield Registry(address, ca, folder, user, password)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(trust, ignore_errors=True)


def trust_in(droplet: str, registry: Registry) -> None:
    """The droplet's engine trusts the registry's CA (what a real droplet does for a public CA)."""
    target = f"/etc/docker/certs.d/{registry.address}"
    done = subprocess.run(
        ["docker", "exec", "-i", droplet, "sh", "-c", f"mkdir -p {target} && cat >{target}/ca.crt"],
        input=registry.ca_pem,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-300:]
