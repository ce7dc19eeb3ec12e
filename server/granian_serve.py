"""The application server of `make run`, the container and fly.toml: granian (WSGI interface, worker processes of
blocking threads), with what server/gunicorn.py's configuration gives gunicorn, the other server of issue 15's trial
(README, "Why granian"). `python -m server.granian_serve` serves server.wsgi:application on HOST:PORT with
WEB_CONCURRENCY worker processes of WEB_THREADS threads each.

What gunicorn's configuration does and how it is done here:
- preload_app: the application is imported here, in the master, before granian forks its workers (granian forks on
  Linux), so they share its memory;
- on_starting: a fresh PROMETHEUS_MULTIPROC_DIR;
- post_fork and post_worker_init: each worker closes inherited database connections and starts its first render
  process before it serves (the loader below runs in the worker);
- bind: one listening socket, held by the master, which every worker accepts from. granian 2.8 on Linux gives each
  worker a SO_REUSEPORT listener of its own instead: a worker's death then resets the connections queued on its
  listener, and with one worker every connection is refused until the next one listens (Master._init_shared_socket).
  Bound without SO_REUSEPORT, which granian's listeners set: a second server on a port in use stops, as gunicorn does,
  instead of taking every other connection of the first;
- a stop signal that reaches a worker before granian has set its handlers (a Ctrl-C while a worker is replaced) ends
  it at once (stop_before_serving): the master's handler, inherited through the fork, took it and the worker served on
  until killed 10 s later; and a worker learns of a stop signal from the signal wakeup fd, whichever of its threads
  took it (stop_signals): granian's Python handler waited for the main thread, which a signal taken by a tokio thread
  never woke;
- forwarded_allow_ips: X-Forwarded-Proto sets the scheme from TRUSTED_PROXIES alone (WorkerApplication). granian's
  own helper, granian.utils.proxies.wrap_wsgi_with_proxy_headers, does not fit: it believes X-Forwarded-Proto only
  beside an X-Forwarded-For, and replaces REMOTE_ADDR with that header's client, so the peer that CLIENT_IP_HEADER is
  believed from (server/middleware.py) would be gone;
- a worker that dies is replaced, however soon after the last replacement: granian's master takes a second unexpected
  exit within 5.5 s of a worker's respawn for a crash loop and exits whole (`_serve_loop` in granian/server/common.py,
  2.8.7 to 2.8.9, not configurable). Here that guard is kept for a worker that dies before it has loaded the
  application (gunicorn's WORKER_BOOT_ERROR stops its arbiter too) and lifted for one that had loaded it;
- max_requests (and its jitter): granian has none, and a worker that ends itself is a crash to it. Here a worker
  counts its requests and, at its limit, asks the master to replace it; the master does it as it replaces a worker
  over WORKER_MAX_RSS_MB (granian's --workers-max-rss), the new worker started before the old one is stopped;
- a stopping worker's answers carry `Connection: close`, so that no client sends a request on a kept-alive connection
  the worker is about to close (WorkerApplication; without it 11 of 219,000 hits failed in 12 s of 5 replacements);
- a worker whose master has died stops (gunicorn's workers watch their parent's pid); granian's went on serving,
  orphaned, for as long as anyone let them (stop_with_master);
- timeout: granian has no worker timeout; the render time budget (transforms/render_pool.py) bounds renders.

These lean on granian's MPServer internals (2.8.7 to 2.8.9: _init_shared_socket, _spawn_worker and the worker's
_watcher and set_sync_signals, _respawn_workers, respawned_wrks, _handle_rss_signal): requirements pin granian, and
make trial's tests (tests/faults, tests/test_server_trial.py) are what tells whether a new version still keeps them.
The master and its workers share a directory of marker files, one per worker process: `booted-<pid>` once the worker
has loaded the application, `recycle-<pid>` once it has served its MAX_REQUESTS.
"""

import contextlib
import ctypes
import importlib
import itertools
import logging
import multiprocessing.util
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from granian import _signals as granian_signals
from granian.net import SocketHolder
from granian.server.mp import MPServer, WorkerProcess

THREADS_DEFAULT = 32  # as server/gunicorn.py's threads
MAX_REQUESTS_DEFAULT = 100_000  # as server/gunicorn.py's max_requests
CHECK_SECONDS = 1  # how often the master looks for workers due for replacement (by requests or memory)
STATE_ENV = "DARKROOM_GRANIAN_STATE"  # the marker directory, handed to the workers
MASTER_ENV = "DARKROOM_GRANIAN_MASTER"  # the master's pid
PR_SET_PDEATHSIG = 1  # linux/prctl.h

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MASTER: "Master | None" = None  # this process's master (in a worker: the master's copy, as it was at the fork)


def threads() -> int:
    return int(os.environ.get("WEB_THREADS", str(THREADS_DEFAULT)))


def max_requests() -> int:
    return int(os.environ.get("MAX_REQUESTS", str(MAX_REQUESTS_DEFAULT)))


def marker(kind: str, pid: int) -> Path:
    return Path(os.environ[STATE_ENV]) / f"{kind}-{pid}"


class WorkerApplication:
    """The application as a worker serves it, with what gunicorn does around each request and granian does not:
    - forwarded_allow_ips: the scheme is https when a peer in TRUSTED_PROXIES says X-Forwarded-Proto: https, http when
      it says anything else; from any other peer the header changes nothing;
    - max_requests: the request that reaches the worker's limit leaves its recycle marker for the master;
    - once the master replaces the worker (SIGUSR1, then SIGTERM when its successor serves), every answer carries
      `Connection: close`, as gunicorn's answers from a worker that is stopping: a client then sends its next request
      on a new connection, not on one the worker is about to close under it."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        from server.middleware import is_trusted_proxy

        self.app, self.limit, self.is_trusted_proxy = app, limit, is_trusted_proxy
        self.served = itertools.count(1)  # next() on it is one step under the GIL: no two threads get one number
        self.recycle = marker("recycle", os.getpid())
        self.draining = False
        signal.signal(signal.SIGUSR1, self.drain)  # before the booted marker: the master signals booted workers only

    def drain(self, signum: int, frame: Any) -> None:
        self.draining = True

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if proto is not None and self.is_trusted_proxy(environ.get("REMOTE_ADDR", "")):
            environ["wsgi.url_scheme"] = "https" if proto == "https" else "http"
        if next(self.served) == self.limit:
            self.recycle.touch()
        if not self.draining:
            return self.app(environ, start_response)

        def closing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return self.app(environ, closing)


def stop_with_master() -> None:
    """Have the kernel send this worker SIGTERM, granian's signal for a graceful stop, when the master dies. (Sent when
    the master's thread that forked the worker ends: granian forks from its main thread, so at the master's end.)"""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(os.environ[MASTER_ENV]):  # the master died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def stop_signals() -> Any:
    """granian's set_sync_signals (granian/_signals.py, 2.8.9), which a worker calls once the loader has returned, with
    the stop set by a thread of its own rather than by the Python handler. A process-wide signal may be taken by any
    of the worker's threads (its tokio runtime's among them): CPython's C handler then only marks it, and the Python
    handler waits for the main thread, which sits in granian's Event.wait and is never woken. The worker served on
    until its master killed it 10 s later ("refused to gracefully stop"; Ctrl-C in a terminal, 3 times in 4 in a
    newcomer's trial). The C handler writes each signal's number to the wakeup fd from whichever thread took it; the
    relay reads it and sets the stop, off the main thread, whichever thread the signal interrupted. The master's
    SIGUSR1 (drain before replacement) had the same fate and is run here too."""
    from granian._granian import WorkerSignal

    stopping = WorkerSignal()
    woken, wake = os.pipe()
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
    stops = {signal.SIGINT, signal.SIGTERM}

    def relay() -> None:  # a daemon thread: it ends with the worker
        while True:
            for number in os.read(woken, 64):
                if number in stops:
                    stopping.set()  # once a signal, as granian's handler did (set again and again, it cut
                    # the requests in flight of a SIGTERM: tests/test_server_trial.py)
                elif number == signal.SIGUSR1:  # the master's "you are being replaced": its handler, run here for
                    # the same reason (WorkerApplication.drain, which the main thread may also run, later or never)
                    drain = signal.getsignal(signal.SIGUSR1)
                    if callable(drain):
                        drain(number, None)

    threading.Thread(target=relay, name="stop-signals", daemon=True).start()
    for each in stops:
        signal.signal(each, lambda signum, frame: None)  # the relay stops the worker; the handler need not run
    return stopping


def stop_before_serving(signum: int, frame: Any) -> None:
    """A worker's SIGINT or SIGTERM before granian has set its own handlers (it does so after the loader returns):
    the master's handler, inherited through the fork, took it and the worker went on to serve until the master killed
    it, 10 s later (a Ctrl-C while a worker was being replaced: 1 stop in 3 took 11-12 s). Nothing is served yet, so
    the worker ends now. Its render process, if started, reads the end of its input and ends too; closing it here
    would take the pool's lock, which the interrupted code may hold."""
    os._exit(0)


def load_application(target: str) -> WSGIApp:
    """Runs in each worker after the fork: the preloaded application, with what gunicorn's hooks and options do."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, stop_before_serving)
    if MASTER is not None and MASTER.interrupt_signal:  # the master's handler, as inherited, took a stop signal here
        stop_before_serving(signal.SIGTERM, None)  # between the fork and this loader
    from django.db import connections

    from server.wsgi import application
    from transforms.render_pool import render_pool

    stop_with_master()
    # A granian worker ends with os._exit (multiprocessing's), so atexit's render_pool.close would not run and its
    # render processes would outlive it, orphaned (zombies under a master that is PID 1); multiprocessing's own
    # finalizers do run.
    multiprocessing.util.Finalize(None, render_pool.close, exitpriority=0)
    connections.close_all()
    try:
        render_pool.warm()
    except Exception:
        logging.getLogger("darkroom").exception("could not start a render process ahead of the first render")
    limit = max_requests()
    served = WorkerApplication(application, limit + random.randint(0, limit // 10) if limit else 0)
    granian_signals.set_sync_signals = stop_signals  # what granian's worker calls once this loader has returned
    marker("booted", os.getpid()).touch()
    return served


class Master(MPServer):
    """granian's master, with gunicorn's rules for replacing workers (the module's docstring)."""

    def startup(self, spawn_target: Any, target_loader: Any) -> None:
        global MASTER
        MASTER = self  # a worker forked from this process finds its copy here (load_application)
        super().startup(spawn_target, target_loader)
        if self.workers_rss is None:  # granian wakes its master to look at memory; here also for requests
            self._watch_workers_rss()

    def _init_shared_socket(self) -> None:
        """One listening socket, held here and listened on by every worker: granian's own way on other systems and
        for Unix sockets (granian/server/common.py: on Linux, TCP, it builds a spec each worker binds anew). Held by
        the master, the socket keeps its queue while workers die and are replaced. Bound here without SO_REUSEPORT
        (granian's listeners set it): a second server on a port already served fails with "Address already in use",
        as gunicorn does, instead of taking every other connection of the first."""
        if self.bind_uds:
            return super()._init_shared_socket()
        family, kind, proto, _, address = socket.getaddrinfo(
            self.bind_addr, self.bind_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listener = socket.socket(family, kind, proto)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, never a live listener
            listener.bind(address)
            listener.listen(self.backlog)
        except OSError as error:
            listener.close()
            raise SystemExit(f"[ERROR] cannot listen at {self.bind_addr}:{self.bind_port}: {error.strerror}") from None
        listener.set_inheritable(True)
        holder = SocketHolder(listener.fileno(), False, self.backlog)  # type: ignore[call-arg]  # (fd, uds, backlog):
        # the stub names no constructor; the Rust class takes these three
        self._sso, self._sfd, self._ssp, self._shd = listener, listener.fileno(), None, holder  # type: ignore[assignment]

    def _spawn_worker(self, idx: int, target: Any, callback_loader: Any) -> WorkerProcess:  # type: ignore[override]
        # (as MPServer's own: AbstractServer declares a socket_loader no subclass takes)
        worker = super()._spawn_worker(idx, target, callback_loader)
        report_exit = worker._watcher  # granian's: waits for the process, tells the master if it was not stopped

        def watch() -> None:
            worker.inner.join()
            booted = marker("booted", worker.inner.pid)
            if booted.exists() and not worker.interrupt_by_parent:  # it died after it had loaded the application:
                self.respawned_wrks.pop(worker.idx, None)  # replaced, however soon after its own start
            booted.unlink(missing_ok=True)
            marker("recycle", worker.inner.pid).unlink(missing_ok=True)
            report_exit()

        worker._watcher = watch  # type: ignore[method-assign]  # read by worker.start(), after this returns
        return worker

    def _respawn_workers(self, workers: Any, spawn_target: Any, target_loader: Any, delay: float = 0) -> None:
        """granian's replacement (the new worker started, `delay` later the old one stopped), one worker at a time,
        each told first to close its connections after each answer (WorkerApplication)."""
        for idx in workers:
            pid = self.wrks[idx].inner.pid
            if marker("booted", pid).exists():
                with contextlib.suppress(ProcessLookupError):  # it may have died meanwhile
                    os.kill(pid, signal.SIGUSR1)
            super()._respawn_workers([idx], spawn_target, target_loader, delay=delay)

    def _handle_rss_signal(self, spawn_target: Any, target_loader: Any) -> None:
        if self.workers_rss is not None:
            super()._handle_rss_signal(spawn_target, target_loader)
        due = [worker.idx for worker in self.wrks if marker("recycle", worker.inner.pid).exists()]
        if due:
            self._respawn_workers(due, spawn_target, target_loader, delay=self.respawn_interval)


def options() -> dict[str, Any]:
    """granian's settings, from the environment as server/gunicorn.py reads it."""
    from granian.constants import Interfaces

    settings: dict[str, Any] = {
        "address": os.environ.get("HOST", "127.0.0.1"),
        "port": int(os.environ.get("PORT", "8000")),
        "interface": Interfaces.WSGI,
        "workers": int(os.environ.get("WEB_CONCURRENCY", str(min(4, max(2, os.cpu_count() or 2))))),  # as make run
        "blocking_threads": threads(),
        "backpressure": threads(),
        "websockets": False,
        "log_access": False,  # the request log is Django's own line (server/middleware.py)
        "respawn_failed_workers": True,
        "rss_sample_interval": CHECK_SECONDS,
        "workers_kill_timeout": 10,  # gunicorn's graceful_timeout
    }
    max_rss = os.environ.get("WORKER_MAX_RSS_MB")
    if max_rss:
        settings.update(workers_max_rss=int(max_rss), rss_samples=5)  # over it for 5 s in a row
    return settings


class ThreadsAreDeliberate(logging.Filter):
    """granian warns at every start that more than 2 x CPUs + 1 threads "seems quite high" and may be ignored if
    intentional: WEB_THREADS is, since a slow upload holds one thread (README, "Why granian")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads, which seems quite high" not in record.getMessage()


def main(loader: Callable[[str], WSGIApp] = load_application) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)

    try:
        importlib.import_module("server.wsgi")  # preload: the application, imported once before the fork
    except ImproperlyConfigured as exc:  # a setting from the environment refused: its message names it
        sys.exit(f"darkroom: {exc}")

    logging.getLogger("_granian").addFilter(ThreadsAreDeliberate())  # granian.log's logger
    state = tempfile.mkdtemp(prefix="darkroom-granian-")
    os.environ[STATE_ENV] = state
    os.environ[MASTER_ENV] = str(os.getpid())
    try:
        Master("server.wsgi:application", **options()).serve(target_loader=loader)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
