"""The Matrix transport on matrix-nio, in parts by job.

``transport`` is the runtime class (the client, the sync loop and the callbacks); it is made of
``session`` (the login kept between runs), ``sending`` (outbox rows to the homeserver) and
``keys`` (who may read what it sends); ``events`` reads commands and answers out of events.
The names the rest of the bot, the tests and the bench use are imported here.
"""

from bot.matrix.session import SESSION_FILE, LoginFailed
from bot.matrix.transport import MatrixTransport

__all__ = ["SESSION_FILE", "LoginFailed", "MatrixTransport"]
