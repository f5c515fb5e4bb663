"""A TCP proxy in front of PostgreSQL that can drop a connection right after
a COMMIT: the transaction is committed, the client never hears so.

It reads PostgreSQL's protocol only as far as it must: the client's first
message (SSL and GSS encryption requests are answered "no"; the startup
message has no type byte), then typed messages both ways (a type byte and
a length that counts itself). Armed, the first simple query that contains
COMMIT is passed on; PostgreSQL's answers to it are read up to
ReadyForQuery and thrown away, and both connections are closed.
"""

from __future__ import annotations

import asyncio
import struct

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


class PgProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.armed = False
        self.cut = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def arm(self) -> None:
        """Cut the connection that sends the next COMMIT, after it committed."""
        self.cut.clear()
        self.armed = True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client_w)
        server_w: asyncio.StreamWriter | None = None
        try:
            first = await self._startup(client_r, client_w)
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers.add(server_w)
            server_w.write(first)
            cutting = asyncio.Event()
            down = asyncio.create_task(self._down(server_r, client_w, cutting))
            try:
                await self._up(client_r, server_w, cutting)
                await down
            finally:
                down.cancel()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # either side went away (or the proxy closed): so does the other
        finally:
            for writer in (client_w, server_w):
                if writer is not None:
                    writer.close()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    async def _startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!II", head)
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            return head + await reader.readexactly(length - 8)

    async def _up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cutting: asyncio.Event) -> None:
        while not cutting.is_set():
            message = await _message(reader)
            if self.armed and message[:1] == b"Q" and b"COMMIT" in message:
                self.armed = False
                cutting.set()
            writer.write(message)
            await writer.drain()

    async def _down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cutting: asyncio.Event) -> None:
        while True:
            message = await _message(reader)
            if not cutting.is_set():
                writer.write(message)
                await writer.drain()
            elif message[:1] == b"Z":  # the commit's answer is complete: drop it, and the connection
                writer.transport.abort()
                self.cut.set()
                return


async def _message(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(5)
    (length,) = struct.unpack("!I", head[1:])
    return head + await reader.readexactly(length - 4)
