"""A throwaway PostgreSQL cluster on loopback for the tests (Debian's postgresql package).

Started once per test session in a temporary folder on a free port, with trust auth on
127.0.0.1 only; as root the server runs as the ``postgres`` user (it refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from bot.devserver import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: apt-get install postgresql "
                           f"(.ci/run does this)")
    return path


@dataclass
class Cluster:
    directory: str
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _run([_bin("pg_ctl"), "-D", self.directory, "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def _run(cmd: list[str], check: bool = True) -> None:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start() -> Cluster:
    directory = tempfile.mkdtemp(prefix="casusbot-pg-")
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = os.path.join(directory, "data")
    _run([_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    port = free_port()
    _run([_bin("pg_ctl"), "-D", data, "-l", os.path.join(directory, "log"), "-w", "-o",
          f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
          f"-c max_connections=50", "start"])
    cluster = Cluster(data, port)
    import psycopg

    for _ in range(100):
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres").close()
            return cluster
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not start")
