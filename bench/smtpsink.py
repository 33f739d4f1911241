"""``python bench/smtpsink.py PORT``: an SMTP sink on 127.0.0.1 that accepts and drops mail.

Just enough SMTP for smtplib (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), reading each message
in one ``readuntil`` so that the sink is not what the benchmark measures: aiosmtpd, which the
tests use, reads a message line by line and cost about 14 ms a 110 KB message here, seven times
the sender's own work.  Prints ``ready`` once listening; on SIGTERM, how many messages and
bytes it accepted.
"""

from __future__ import annotations

import asyncio
import signal
import sys

COUNTS = [0, 0]  # messages, bytes


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 bench sink\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"DATA":
            writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
            data = await reader.readuntil(b"\r\n.\r\n")
            COUNTS[0] += 1
            COUNTS[1] += len(data)
            writer.write(b"250 OK\r\n")
        elif verb in (b"EHLO", b"HELO"):
            writer.write(b"250-bench sink\r\n250 SIZE 104857600\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()
    writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_session, "127.0.0.1", port, limit=2**24)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    print(f"{COUNTS[0]} {COUNTS[1]}", flush=True)


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1])))
