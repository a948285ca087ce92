"""The ``casusbot`` command line: a thin layer over ``bootstrap`` and the transports.

``base`` holds the group and what the commands share; ``run``, ``setup``, ``database``,
``crosssign``, ``audit``, ``case`` and ``dev`` each add their commands to it, so importing this
package makes the whole command line (the console script and ``python -m bot`` call ``main``).
"""

from bot.cli import (  # noqa: F401  (they add their commands)
    audit,
    case,
    crosssign,
    database,
    dev,
    run,
    setup,
)
from bot.cli.base import main, read_env

__all__ = ["main", "read_env"]
