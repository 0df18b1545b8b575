"""An aiosmtpd handler that keeps each message as Mailbox does, then waits before saying so: the
message has arrived, but its sender has not heard back yet. The notifier tests use it to crash the
notifier between sending an email and recording that it was sent."""

import asyncio

from aiosmtpd.handlers import Mailbox


class SlowMailbox(Mailbox):
    def __init__(self, mail_dir, delay):
        super().__init__(mail_dir)
        self.delay = float(delay)

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 2:
            parser.error("SlowMailbox takes a maildir and a delay in seconds")
        return cls(args[0], args[1])
