"""Three app hosts on one machine, as three machines would run Darkroom: each its own server (started as `make run`
starts it, through tests/server.py) with its own DATA_DIR, on 127.0.0.2, .3 and .4, sharing one PostgreSQL database
(made for the run), one Redis and one S3-compatible bucket (moto's server, behind a relay that can be stopped).

`python -m tests.cluster.hosts` (`make cluster`) starts it for people to try, prints where, and stops it all
cleanly on Ctrl-C."""

import contextlib
import os
import signal
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests import server as live
from tests.objectstore import PORTS, ObjectStore, Relay, start_object_store

ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
POSTGRES = os.environ.get("DARKROOM_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("DARKROOM_CLUSTER_REDIS", "redis://127.0.0.1:6379/14")


def port_free_on_all(addresses: tuple[str, ...]) -> int:
    for port in reversed(PORTS):  # from the top, away from the object store's and the relay's
        probes = []
        try:
            for address in addresses:
                probe = socket.socket()
                probes.append(probe)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no port in {PORTS} free on {', '.join(addresses)}")


@dataclass
class Cluster:
    root: Path
    store: ObjectStore
    relay: Relay
    database: str
    database_url: str
    port: int
    hosts: list[live.Server] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **self.store.host_env(endpoint=self.relay.endpoint),
            "VARIANT_MEMORY_CACHE_BYTES": str(32 * 2**20),  # the memory tier on, as in production
            "AWS_S3_CONNECT_TIMEOUT": "1",
            "AWS_S3_READ_TIMEOUT": "5",
            # 150 threads of three hosts and their renders on two shared cores: a Redis call can wait past the
            # 0.25 s default, after which a host takes Redis for away and renders on its own, by design (seen here:
            # 2 renders in 50). These tests are about Redis present; the fallback has tests/faults.
            "REDIS_TIMEOUT_SECONDS": "2",
        }

    def start_host(self, index: int) -> live.Server:
        host = live.start(
            self.root / f"host-{'abc'[index]}",
            redis_url=REDIS,
            workers=2,
            extra_env=self.env(),
            log_path=self.root / f"host-{'abc'[index]}.log",
            host=ADDRESSES[index],
            port=self.port,
            database_url=self.database_url,
            own_group=True,
        )
        if index < len(self.hosts):
            self.hosts[index] = host
        else:
            self.hosts.append(host)
        return host

    def kill_host(self, index: int) -> None:
        """SIGKILL the host's whole process group: the server, its workers, their render processes."""
        host = self.hosts[index]
        os.killpg(host.process.pid, signal.SIGKILL)
        host.process.wait()

    def stop(self) -> None:
        for host in self.hosts:
            if host.process.poll() is None:
                host.stop()
            with contextlib.suppress(ProcessLookupError):  # render processes a worker left behind
                os.killpg(host.process.pid, signal.SIGKILL)
        self.relay.stop()
        self.store.stop()
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def start_cluster(root: Path) -> Cluster:
    store = start_object_store()
    relay = Relay(store.endpoint)
    relay.start()
    database = f"darkroom_cluster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    database_url = POSTGRES.rsplit("/", 1)[0] + f"/{database}"
    cluster = Cluster(root, store, relay, database, database_url, port_free_on_all(ADDRESSES))
    try:
        for index in range(len(ADDRESSES)):
            cluster.start_host(index)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="darkroom-cluster-"))
    cluster = start_cluster(root)
    print(
        f"Three hosts, sharing PostgreSQL database {cluster.database}, Redis {REDIS} and bucket {cluster.store.bucket}"
    )
    for host in cluster.hosts:
        print(f"  http://{host.host}:{host.port}/   DATA_DIR={host.data_dir}")
    print(f"Object store {cluster.store.endpoint}, reached through {cluster.relay.endpoint}; logs in {root}")
    print("Ctrl-C stops everything and drops the database.")
    try:
        while all(host.process.poll() is None for host in cluster.hosts):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        print("stopped")


if __name__ == "__main__":
    main()
