"""The Teams app package: manifest.json with this deployment's values, plus the two icons.

Upload the zip in the Teams admin center (or sideload it) after registering the Azure Bot.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

MANIFEST_DIR = Path(__file__).parent / "manifest"
_PLACEHOLDER = re.compile(r"\$\{\{([A-Z_]+)\}\}")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class PackageError(Exception):
    """A value the manifest needs is missing or invalid; the message says which."""


def build(app_id: str, organisation: str, website_url: str, privacy_url: str,
          terms_url: str) -> bytes:
    """The zip's bytes: manifest.json (placeholders filled), color.png, outline.png."""
    if not _GUID.match(app_id):
        raise PackageError(f"the Teams app ID must be the Azure Bot's Microsoft App ID, a "
                           f"GUID like 00000000-0000-0000-0000-000000000000 (got {app_id!r})")
    for name, url in (("website", website_url), ("privacy", privacy_url),
                      ("terms", terms_url)):
        if not re.match(r"^https://\S+$", url):
            raise PackageError(f"--{name}-url must be an https URL (got {url!r})")
    if not organisation.strip():
        raise PackageError("--organisation is required (shown as the app's developer)")
    try:
        app_version = version("casusbot")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        app_version = "0.1.0"
    values = {"TEAMS_APP_ID": app_id.lower(), "ORGANISATION": organisation.strip(),
              "WEBSITE_URL": website_url, "PRIVACY_URL": privacy_url, "TERMS_URL": terms_url,
              "VERSION": app_version}
    template = (MANIFEST_DIR / "manifest.json").read_text()
    filled = _PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)])[1:-1], template)
    manifest = json.loads(filled)  # a bad value would make it invalid JSON: fail here
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in ("color.png", "outline.png"):
            z.write(MANIFEST_DIR / icon, icon)
    return buffer.getvalue()
