"""Logging: one line per record, IDs as key=value extras, never message bodies."""

from __future__ import annotations

import logging
import re
import sys

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        return f"{base} {extras}".rstrip()


class NoMessageText(logging.Filter):
    """A library's log line that quotes a message's text ("No route found for activity type:
    messageUpdate with text: …", as the Agents SDK logs) keeps only what comes before it."""

    _QUOTE = re.compile(r" with text: | text: |\btext=")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("bot.", "commands.", "storage.")):
            return True  # our own lines carry no bodies (extras are IDs and shapes)
        message = record.getMessage()
        if self._QUOTE.search(message):
            record.msg = self._QUOTE.split(message, maxsplit=1)[0] + " (text hidden)"
            record.args = ()
        return True


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(NoMessageText())
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # nio logs event contents at DEBUG/INFO; keep it quiet so no message body reaches a log.
    for noisy in ("nio", "peewee", "aiohttp", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
