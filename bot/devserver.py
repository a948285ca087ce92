"""A local Synapse on loopback for `make run` and the end-to-end tests.

Written from what was measured here (ARCHITECTURE.md): a hand-written homeserver.yaml with one
client listener on 127.0.0.1, SQLite, a shared registration secret, raised rate limits, no
outbound connections, and background updates that do not sleep. Only the standard library is
used to talk to it, so the tests need no extra HTTP client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "localhost"
_RC_HIGH: dict[str, Any] = {"per_second": 1000, "burst_count": 1000}


class NotStarted(RuntimeError):
    """The local Synapse could not be started; the message says why, in one line."""


def synapse_missing() -> bool:
    """Whether Synapse (the ``matrix-synapse`` package) cannot be imported here."""
    import importlib.util

    try:
        return importlib.util.find_spec("synapse.app.homeserver") is None
    except ImportError:
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _preferred_port(preferred: int = 8008) -> int:
    """Synapse's usual port when it is free (a URL people recognise), else any free one."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def _yaml(data: dict[str, Any]) -> str:
    # JSON is valid YAML; no YAML writer is needed.
    return json.dumps(data, indent=2)


def write_config(directory: Path, port: int, *, secret: str | None = None) -> Path:
    """Write homeserver.yaml, a log config and a signing key under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = secret or hashlib.sha256(os.urandom(32)).hexdigest()
    log_config = directory / "log.yaml"
    log_config.write_text(_yaml({
        "version": 1,
        "formatters": {"f": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "f",
                              "filename": str(directory / "homeserver.log")}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }))
    key_path = directory / "signing.key"
    if not key_path.exists():
        from signedjson.key import generate_signing_key, write_signing_keys

        with key_path.open("w") as f:
            write_signing_keys(f, [generate_signing_key("a_key")])
    rc: dict[str, Any] = {name: _RC_HIGH for name in (
        "rc_message", "rc_registration", "rc_joins_per_room", "rc_3pid_validation",
        "rc_invites_per_room", "rc_invites_per_user", "rc_invites_per_issuer",
        "rc_room_creation", "rc_presence_per_user", "rc_delayed_event_mgmt",
        "rc_reports", "rc_media_create")}
    rc["rc_login"] = {"address": _RC_HIGH, "account": _RC_HIGH, "failed_attempts": _RC_HIGH}
    rc["rc_joins"] = {"local": _RC_HIGH, "remote": _RC_HIGH}
    rc["rc_admin_redaction"] = _RC_HIGH
    rc["rc_key_requests"] = _RC_HIGH
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                       "tls": False, "x_forwarded": False,
                       "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(key_path),
        "registration_shared_secret": secret,
        "enable_registration": False,
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "bcrypt_rounds": 4,
        "background_updates": {"sleep_enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "federation_domain_whitelist": [],
        "macaroon_secret_key": hashlib.sha256(secret.encode() + b"m").hexdigest(),
        "form_secret": hashlib.sha256(secret.encode() + b"f").hexdigest(),
        **rc,
    }
    path = directory / "homeserver.yaml"
    path.write_text(_yaml(config))
    (directory / "dev.json").write_text(json.dumps({"port": port, "secret": secret}))
    return path


@dataclass
class Synapse:
    """A running Synapse child process."""

    directory: Path
    port: int
    secret: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0, cpus: set[int] | None = None) -> None:
        """Start Synapse and wait until it answers; ``cpus``: the CPUs it may run on (the
        benchmark gives it one of its own)."""
        with socket.socket() as probe:  # taken: another program would answer for it
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (as Synapse does)
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise NotStarted(
                    f"port {self.port} on 127.0.0.1 (this demo's Synapse, in "
                    f"{self.directory}) is in use by another program: stop that program, "
                    f"or remove {self.directory.parent} (make clean-dev) to start a new "
                    "demo on a free port") from None
        log = (self.directory / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c",
             str(self.directory / "homeserver.yaml")],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                logs = [p for p in (self.directory / "homeserver.log",
                                    self.directory / "stdout.log") if p.exists()]
                raise NotStarted("Synapse exited at start; see "
                                 + " and ".join(str(p) for p in logs))
            try:
                request(self.url, "GET", "/_matrix/client/versions", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise NotStarted(f"Synapse did not answer within {timeout:.0f} s; see "
                         f"{self.directory / 'stdout.log'}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def register(self, user: str, password: str, admin: bool = False) -> str:
        """Register ``user`` (the localpart) with the shared secret; returns the Matrix ID."""
        nonce = request(self.url, "GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        try:
            request(self.url, "POST", "/_synapse/admin/v1/register", {
                "nonce": nonce, "username": user, "password": password, "admin": admin,
                "mac": mac.hexdigest()})
        except HTTPError as e:
            if e.errcode != "M_USER_IN_USE":
                raise
        return f"@{user}:{SERVER_NAME}"

    def login(self, user: str, password: str, device_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "m.login.password", "password": password,
                                "identifier": {"type": "m.id.user", "user": user}}
        if device_id:
            body["device_id"] = device_id
        resp: dict[str, Any] = request(self.url, "POST", "/_matrix/client/v3/login", body)
        return resp


def load(directory: Path) -> Synapse:
    info = json.loads((directory / "dev.json").read_text())
    return Synapse(directory, int(info["port"]), str(info["secret"]))


def prepare(directory: Path, port: int | None = None) -> Synapse:
    """A Synapse in ``directory``: reuse its config (and port) if there is one."""
    if (directory / "dev.json").exists():
        return load(directory)
    write_config(directory, port or _preferred_port())
    return load(directory)


class HTTPError(OSError):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body.get('errcode')} {body.get('error')}")
        self.status = status
        self.errcode = body.get("errcode")
        self.body = body


def request(base: str, method: str, path: str, body: dict[str, Any] | None = None,
            token: str | None = None, timeout: float = 30) -> Any:
    """One JSON request to the homeserver (loopback only)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            payload = json.loads(e.read() or b"{}")
        except ValueError:
            payload = {}
        raise HTTPError(e.code, payload) from None


def create_room(base: str, token: str, *, name: str, invite: list[str],
                encrypted: bool = True) -> str:
    initial_state: list[dict[str, Any]] = []
    if encrypted:
        initial_state.append({"type": "m.room.encryption", "state_key": "",
                              "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
    resp = request(base, "POST", "/_matrix/client/v3/createRoom", {
        "name": name, "preset": "private_chat", "invite": invite,
        "initial_state": initial_state}, token=token)
    return str(resp["room_id"])


def join(base: str, token: str, room_id: str) -> None:
    request(base, "POST", f"/_matrix/client/v3/join/{urllib.parse.quote(room_id)}", {},
            token=token)


MODERATOR = 50  # the power level of a moderator in Element; enough to remove messages


def make_moderator(base: str, token: str, room_id: str, user_id: str,
                   level: int = MODERATOR) -> None:
    """Give ``user_id`` power ``level`` in ``room_id`` (``token``: someone allowed to change
    the room's power levels, e.g. its creator). The bot needs it to remove a message with
    personal data that it refused."""
    path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/state/m.room.power_levels"
    levels = request(base, "GET", path, token=token)
    levels.setdefault("users", {})[user_id] = level
    request(base, "PUT", path, levels, token=token)
