"""`casusbot init`: a configuration file with a fresh key, and the bot logged in once."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from nio import AsyncClient, LoginResponse

from bot.config import ConfigError, load
from bot.matrix import SESSION_FILE
from bot.private import private_dir, private_tree, write_private


class InitError(Exception):
    """Set-up could not finish; the message says why."""


async def initialise(output: Path, *, homeserver: str, user_id: str, password: str,
                     admins: str, database_url: str, store_path: Path, locale: str) -> str:
    """Validate, log in once (keeping the session in the store) and write the config."""
    env = {
        "CASUSBOT_HOMESERVER": homeserver.rstrip("/"),
        "CASUSBOT_USER_ID": user_id,
        "CASUSBOT_ADMINS": admins,
        "CASUSBOT_REF_KEY": secrets.token_urlsafe(32),
        "CASUSBOT_DATABASE_URL": database_url,
        "CASUSBOT_STORE_PATH": str(store_path),
        "CASUSBOT_LOCALE": locale,
    }
    try:
        config = load({**env, "CASUSBOT_PASSWORD": password})
    except ConfigError as e:
        raise InitError(str(e)) from None
    # Where the configuration goes must be writable before the login: a login whose
    # session cannot be written would leave a device signed in for nothing.
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe = output.parent / f".{output.name}.probe"
        write_private(probe, "")
        probe.unlink()
    except OSError as e:
        raise InitError(f"cannot write the configuration in {output.parent}: "
                        f"{e.strerror or type(e).__name__}") from None
    private_dir(store_path)
    client = AsyncClient(config.homeserver, config.user_id, store_path=str(store_path))
    try:
        resp = await client.login(password=password, device_name=config.device_name)
    except Exception as e:
        raise InitError(f"cannot reach {config.homeserver}: {type(e).__name__}") from None
    finally:
        await client.close()
    if not isinstance(resp, LoginResponse):
        raise InitError(f"login as {user_id} failed: {getattr(resp, 'message', resp)}")
    session = store_path / SESSION_FILE
    private_tree(store_path)  # nio's key store, created at login
    write_private(session, json.dumps({"user_id": config.user_id,
                                       "homeserver": config.homeserver,
                                       "device_id": resp.device_id,
                                       "access_token": resp.access_token}))
    # The password is not written: the session in the store is what the bot uses from now
    # on. CASUSBOT_ACCESS_TOKEN satisfies the configuration's "one login required" rule.
    env["CASUSBOT_ACCESS_TOKEN"] = resp.access_token
    env["CASUSBOT_DEVICE_ID"] = resp.device_id
    lines = ["# casusbot configuration, written by `casusbot init`. Keep it secret.",
             "# Every setting is explained in config.example.env."]
    lines += [f"{k}={v}" for k, v in env.items()]
    write_private(output, "\n".join(lines) + "\n")
    return str(resp.device_id)
