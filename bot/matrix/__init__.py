"""The Matrix transport on matrix-nio, in parts by job.

``transport`` is the runtime class (the client, the sync loop and the callbacks); it is made of
``session`` (the login kept between runs), ``sending`` (outbox rows to the homeserver) and
``keys`` (who may read what it sends); ``events`` reads commands and answers out of events.
The names the rest of the bot, the tests and the bench use are imported here.
"""

from bot import import_peewee_without_psycopg

import_peewee_without_psycopg()  # before nio is imported by the modules below

from bot.matrix.session import SESSION_FILE, LoginFailed  # noqa: E402
from bot.matrix.transport import MatrixTransport  # noqa: E402

__all__ = ["SESSION_FILE", "LoginFailed", "MatrixTransport"]
