"""Entry point: `python server.py [--port=8000] [migrate]`.

Loads the settings, builds the app, listens and waits; `migrate` applies
pending database migrations and exits (the Procfile's release step).
"""

from __future__ import annotations

import errno
import gc
import logging
import resource
import socket
import sys

import tornado.log
import tornado.netutil
import uvloop

from app import db, http_server, shutdown
from app.application import close_app, make_app
from app.config import SettingsError, ensure_secret_key, load_settings

log = logging.getLogger("server")


def raise_open_file_limit() -> int:
    """Every socket is a file descriptor: allow as many as the system does
    (the hard limit; only the system can raise that). Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class PortBusy(Exception):
    """The port is taken: said in one line, with one that is free."""

    def __init__(self, port: int, host: str) -> None:
        super().__init__(f"port {port} is busy; use --port={free_port_after(port, host)}")


def port_is_free(port: int, host: str) -> bool:
    """Binds as `listen` will (same addresses, same options), then lets go."""
    try:
        sockets = tornado.netutil.bind_sockets(port, host)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return False
        raise
    for bound in sockets:
        bound.close()
    return True


def free_port_after(port: int, host: str) -> int:
    """The next free port above `port`, for the suggestion (or, if the
    hundred above are all taken, one the system picks)."""
    for candidate in range(port + 1, min(port + 100, 65536)):
        if port_is_free(candidate, host):
            return candidate
    with socket.create_server((host, 0)) as probe:
        return probe.getsockname()[1]


async def serve(open_files: int) -> None:
    settings = load_settings(sys.argv[1:])
    # Before anything is logged, so that a busy port is the only line.
    if not settings.command and not port_is_free(settings.port, settings.host):
        raise PortBusy(settings.port, settings.host)
    settings = ensure_secret_key(settings)
    if settings.command == ("migrate",):
        applied = db.migrate(db.open_database(settings.database_url, settings.sqlite_synchronous))
        log.info("migrations applied: %s", ", ".join(applied) or "none pending")
        return
    if settings.command:
        raise SettingsError(
            f"Unknown command {' '.join(settings.command)!r}; the only one is 'migrate'."
        )
    app = make_app(settings)
    # Everything allocated so far lives as long as the process: keep it out
    # of the collector's sight, so full collections under load stay short.
    gc.freeze()
    server = http_server.listen(app, settings)
    where = settings.sqlite_path or "the database at DATABASE_URL"
    log.info("serving on http://%s:%d/ (data: %s)", settings.host, settings.port, where)
    # The most sockets this process can hold open at once.
    log.info("open files limit: %d (each socket is one)", open_files)
    await shutdown.wait_for_stop_signal()
    await shutdown.drain(server, app.settings["services"])
    await app.settings["services"].realtime.stop()
    close_app(app)


def main() -> None:
    limit = raise_open_file_limit()
    tornado.log.enable_pretty_logging()
    logging.getLogger().setLevel(logging.INFO)
    try:
        # uvloop under Tornado: ~25% more mutations a second here (bench/).
        uvloop.run(serve(limit))
    except SettingsError as error:
        log.error("%s", error)
        sys.exit(2)
    except PortBusy as busy:
        sys.exit(str(busy))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
