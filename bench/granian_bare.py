"""A bare app of bench/bare_wsgi.py served as server/granian_serve.py serves darkroom: its master, workers, threads
and per-request wrapper, so that W1 compares darkroom with the bare app on the same server.
`python -m bench.granian_bare <application name in bench.bare_wsgi>`."""

import os
import sys
from typing import Any

from server import granian_serve


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "application"

    def load(target: str) -> Any:
        from bench import bare_wsgi

        granian_serve.stop_with_master()
        served = granian_serve.WorkerApplication(getattr(bare_wsgi, name), granian_serve.max_requests())
        granian_serve.marker("booted", os.getpid()).touch()
        return served

    granian_serve.main(loader=load)


if __name__ == "__main__":
    main()
