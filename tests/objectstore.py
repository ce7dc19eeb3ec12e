"""An S3-compatible server for tests: moto's standalone server on 127.0.0.1, or any endpoint named by
DARKROOM_TEST_S3_ENDPOINT (with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for it), and a TCP relay in front of
it that a test can stop and start again (the store "away" without losing what it holds)."""

import contextlib
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PORTS = range(18400, 18500)  # this project's test ports for the object store and its relay


def _free_port(host: str = "127.0.0.1") -> int:
    for port in PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


@dataclass
class ObjectStore:
    """An S3 endpoint, the credentials for it, and a bucket of this run's own."""

    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **self._credentials())

    def _credentials(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.env["AWS_SECRET_ACCESS_KEY"],
        }

    def objects(self, bucket: str | None = None) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def new_bucket(self) -> str:
        name = f"darkroom-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def host_env(self, bucket: str | None = None, endpoint: str | None = None) -> dict[str, str]:
        """What a server process needs to keep its originals in the bucket (through `endpoint`, a relay maybe)."""
        url = f"s3://{bucket or self.bucket}?endpoint_url={endpoint or self.endpoint}&region_name=us-east-1"
        return {"STORAGE_URL": url, **self.env}

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_object_store() -> ObjectStore:
    """DARKROOM_TEST_S3_ENDPOINT when set; else moto's server, started here on 127.0.0.1 and a free test port."""
    endpoint = os.environ.get("DARKROOM_TEST_S3_ENDPOINT", "")
    credentials = {
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "darkroom-test"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "darkroom-test-secret"),
    }
    process = None
    if not endpoint:
        for _ in range(5):  # another test process may take the port between the probe and moto's bind
            port = _free_port()
            process = subprocess.Popen(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and process.poll() is None and not _answers(port):
                time.sleep(0.05)
            if process.poll() is None and _answers(port):
                break
            process.kill()
            process.wait()
        else:
            raise RuntimeError("moto_server did not start")
        endpoint = f"http://127.0.0.1:{port}"
    store = ObjectStore(endpoint, "", process, credentials)
    store.bucket = store.new_bucket()
    return store


class Relay:
    """A TCP relay from 127.0.0.1:<port> to the object store: stop() refuses every connection and cuts the open
    ones, as a store that is down does; start() lets them through again. What the store holds is kept."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for sock in readable:
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open.discard(a)
                self._open.discard(b)
            a.close()
            b.close()
