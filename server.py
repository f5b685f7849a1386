"""Entry point: `python server.py [--port=8000] [migrate]`.

Loads the settings, builds the app, listens and waits; `migrate` applies
pending database migrations and exits (the Procfile's release step).
"""

from __future__ import annotations

import gc
import logging
import resource
import sys

import tornado.log
import uvloop

from app import db, http_server, shutdown
from app.application import make_app
from app.config import SettingsError, ensure_secret_key, load_settings

log = logging.getLogger("server")


def raise_open_file_limit() -> None:
    """Every socket is a file descriptor: allow as many as the system does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve() -> None:
    settings = ensure_secret_key(load_settings(sys.argv[1:]))
    if settings.command == ("migrate",):
        applied = db.migrate(db.open_database(settings.database_url))
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
    await shutdown.wait_for_stop_signal()
    await shutdown.drain(server, app.settings["services"])
    await app.settings["services"].presence.stop()
    db.close_database()


def main() -> None:
    raise_open_file_limit()
    tornado.log.enable_pretty_logging()
    logging.getLogger().setLevel(logging.INFO)
    try:
        # uvloop under Tornado: ~25% more mutations a second here (bench/).
        uvloop.run(serve())
    except SettingsError as error:
        log.error("%s", error)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
