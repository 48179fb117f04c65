"""Fixtures for the load tests: a small real HTTP target (Starlette on uvicorn) in a subprocess.

The target gets an already-bound listening socket (127.0.0.1, ephemeral
port), so there is no port race; readiness is a real HTTP GET with a deadline.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent


def _wait_ready(url: str, proc: subprocess.Popen[bytes], verify: ssl.SSLContext | bool,
                deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"target exited with {proc.returncode} before answering")
        try:
            if httpx.get(url, timeout=1.0, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"target {url} not ready within {deadline_s} s")


@contextlib.contextmanager
def _serve(tls: tuple[Path, Path, Path] | None = None) -> Iterator[str]:
    """Run target_app.py on 127.0.0.1:<ephemeral>; ``tls`` is (ca, cert, key)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    port = listener.getsockname()[1]
    extra = [str(tls[1]), str(tls[2])] if tls else []
    proc = subprocess.Popen([sys.executable, str(HERE / "target_app.py"), str(listener.fileno()), *extra],
                            pass_fds=[listener.fileno()], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.close()  # the child owns it now
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/fast", proc, ssl.create_default_context(cafile=tls[0]) if tls else True)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def target() -> Iterator[str]:
    """Base URL of the test target: /fast, /slow?ms=N, /error (500), /reset (dropped mid-body)."""
    with _serve() as url:
        yield url


@pytest.fixture(scope="session")
def tls_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(https URL, CA file) of the same target behind a per-session self-signed CA."""
    pytest.importorskip("cryptography", reason="cryptography makes the throwaway CA")
    ca, cert, key = make_ca_and_cert(tmp_path_factory.mktemp("tls"))
    with _serve((ca, cert, key)) as url:
        yield url, ca


def make_ca_and_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for IP 127.0.0.1 signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "infratests test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture()
def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
