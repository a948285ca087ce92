"""What the Matrix transport keeps between runs: its login (``session.json`` in the store
folder: same device, so E2EE keys and transaction IDs stay valid) and nio's E2EE store, and
the ``Login`` part of the transport that restores that session or logs in once."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from nio import AsyncClient, LoginResponse, WhoamiResponse
from nio.store import DefaultStore

from bot.app import App
from bot.private import private_dir, private_tree, write_private

log = logging.getLogger(__name__)
SESSION_FILE = "session.json"


class LoginFailed(Exception):
    """The homeserver refused the bot's login; the message says how to fix it."""


class _Store(DefaultStore):  # type: ignore[misc]
    """nio's store, without its database round trip after every sync: nio saves the rooms
    that became encrypted in each sync response, nearly always none, and even an empty
    save looks the account up (measured: ~12% of the bot's CPU in `make bench`)."""

    def save_encrypted_rooms(self, rooms: set[str]) -> None:
        if rooms:
            super().save_encrypted_rooms(rooms)


class Login:
    """The transport's login: reuse the stored session, else a token or the password."""

    app: App
    client: AsyncClient
    store: Path

    async def login(self) -> None:
        """Reuse the stored session (same device, so E2EE keys and txn IDs stay valid), else
        log in; the store folder is left 0700 with its files 0600 (``bot.private``)."""
        private_dir(self.store)
        await self._login()
        private_tree(self.store)

    async def _login(self) -> None:
        cfg = self.app.config
        session_path = self.store / SESSION_FILE
        if session_path.exists():
            saved = json.loads(session_path.read_text())
            if saved.get("user_id") == cfg.user_id and saved.get("homeserver") == cfg.homeserver:
                self.client.restore_login(cfg.user_id, saved["device_id"], saved["access_token"])
                log.info("restored session", extra={"device_id": saved["device_id"]})
                return
        if cfg.access_token:
            self.client.access_token = cfg.access_token
            who = await self.client.whoami()
            if not isinstance(who, WhoamiResponse) or not who.device_id:
                raise LoginFailed("CASUSBOT_ACCESS_TOKEN was refused by the homeserver "
                                  "(or has no device); create a new token")
            self.client.restore_login(cfg.user_id, who.device_id, cfg.access_token)
            device_id, token = who.device_id, cfg.access_token
        else:
            resp = await self.client.login(password=cfg.password or "",
                                           device_name=cfg.device_name)
            if not isinstance(resp, LoginResponse):
                raise LoginFailed(f"login as {cfg.user_id} failed: "
                                  f"{getattr(resp, 'message', resp)}; check CASUSBOT_PASSWORD")
            device_id, token = resp.device_id, resp.access_token
        write_private(session_path, json.dumps({"user_id": cfg.user_id,
                                                "homeserver": cfg.homeserver,
                                                "device_id": device_id, "access_token": token}))
        log.info("logged in", extra={"device_id": device_id})
