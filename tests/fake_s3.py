"""moto's S3 server as a real HTTP endpoint on 127.0.0.1, stopping by itself after `lifetime`."""

from __future__ import annotations

import threading

from moto.server import ThreadedMotoServer


class FakeS3:
    def __init__(self, lifetime: float = 900):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._lifetime = lifetime
        self._timer: threading.Timer | None = None

    def start(self) -> "FakeS3":
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._timer = threading.Timer(self._lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None
            self._server.stop()
