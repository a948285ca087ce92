"""The floor, in its own process like the bot: a minimal matrix-nio echo bot, no database.

python -m bench.echo HOMESERVER USER_ID PASSWORD  (prints "ready" once it syncs)
"""

from __future__ import annotations

import asyncio
import sys

from bench.latency import EchoBot


async def main(url: str, user: str, password: str) -> None:
    bot = EchoBot(url, user, password)
    await bot.start()
    print("ready", flush=True)
    assert bot.task is not None
    await bot.task


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
