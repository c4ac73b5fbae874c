"""A real HTTP S3 endpoint for tests: moto in server mode on a local port."""

import boto3

from config.redis_server import free_port

BUCKET = "photos-test"


class S3Endpoint:
    """moto's S3 in server mode: real HTTP on a local port, stoppable to fake an outage."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server_class = ThreadedMotoServer
        self.server = None

    def start(self):
        self.server = self._server_class(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self):
        self.server.stop()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
