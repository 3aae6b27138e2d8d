"""A response's writes within one turn of the event loop reach the socket as one (markets.serving.CoalescedWrites)."""

from __future__ import annotations

import asyncio

from markets.serving import CoalescedWrites


class RecordingTransport(asyncio.Transport):
    """What the socket's transport was asked to do, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[object] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(bytes(data))

    def close(self) -> None:
        self.calls.append("close")
        self.closed = True

    def abort(self) -> None:
        self.calls.append("abort")
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_of_one_turn_go_out_together_in_order() -> None:
    socket = RecordingTransport()
    writes = CoalescedWrites(socket, asyncio.get_running_loop())
    writes.write(b"HTTP/1.1 200 OK\r\n\r\n")
    writes.write(b'{"data": {}}')
    assert socket.calls == []
    assert writes.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\n") + len(b'{"data": {}}')
    await asyncio.sleep(0)
    assert socket.calls == [b'HTTP/1.1 200 OK\r\n\r\n{"data": {}}']
    writes.write(b"next")
    await asyncio.sleep(0)
    assert socket.calls[1:] == [b"next"]


async def test_closing_sends_what_is_pending_first() -> None:
    socket = RecordingTransport()
    writes = CoalescedWrites(socket, asyncio.get_running_loop())
    writes.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    writes.close()
    assert socket.calls == [b"HTTP/1.1 408 Request Timeout\r\n\r\n", "close"]
    assert writes.is_closing()
    await asyncio.sleep(0)
    assert socket.calls == [b"HTTP/1.1 408 Request Timeout\r\n\r\n", "close"]


async def test_an_aborted_connection_sends_nothing_more() -> None:
    socket = RecordingTransport()
    writes = CoalescedWrites(socket, asyncio.get_running_loop())
    writes.write(b"partial")
    writes.abort()
    await asyncio.sleep(0)
    assert socket.calls == ["abort"]
