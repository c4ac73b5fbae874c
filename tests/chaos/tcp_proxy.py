"""A TCP forwarder to run as its own process: the S3 endpoint the workers are given.

    python tests/chaos/tcp_proxy.py --port 9000 --to 9001

moto's S3 server keeps its objects in memory, so killing it would also wipe what it had
stored, which no S3 outage does. The fault tests kill this forwarder instead: the
endpoint's port refuses connections and open connections drop, exactly what the workers
see when S3 is down, while the objects written before the outage are still there after it.
"""

import argparse
import asyncio
import contextlib


async def pipe(reader, writer):
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


async def serve(port, target):
    async def forward(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer)
        )

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    print(f"forwarding 127.0.0.1:{port} -> 127.0.0.1:{target}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--to", type=int, required=True)
    options = parser.parse_args()
    asyncio.run(serve(options.port, options.to))


if __name__ == "__main__":
    main()
