"""Serves the portal with gunicorn (no HTTP parsing of our own): one worker
process, because the approvers' connections live in it, with threads."""

import argparse
import logging
import sys

from gunicorn.app.base import BaseApplication

from . import config as portal_config
from .app import create_app


class PortalServer(BaseApplication):
    def __init__(self, config):
        self.portal = config
        super().__init__()

    def load_config(self):
        c = self.portal
        settings = {
            "bind": [c.listen],
            "workers": 1,               # sessions (and their connections) are this process's memory
            "worker_class": "gthread",
            "threads": c.threads,
            "timeout": 60,
            "accesslog": c.access_log,  # the request line, status and size: never a body
            "errorlog": c.error_log,
            "proc_name": "pg_mpa-portal",
            "forwarded_allow_ips": "*" if c.behind_proxy else "127.0.0.1",
        }
        if c.tls:
            settings.update(certfile=c.tls_certificate, keyfile=c.tls_key)
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.portal)


def main(argv):
    parser = argparse.ArgumentParser(prog="portal/run", description="pg_mpa's approval portal")
    parser.add_argument("--config", required=True, help="the portal's configuration file (see portal.conf.example)")
    args = parser.parse_args(argv)
    try:
        config = portal_config.load(args.config)
    except portal_config.ConfigError as error:
        print(f"portal: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [portal] %(message)s", stream=sys.stderr)
    scheme = "https" if config.tls else "http (behind a TLS proxy)"
    print(f"pg_mpa portal: {scheme} on {config.listen}, database {config.database} at {config.host}:{config.port}",
          file=sys.stderr, flush=True)
    PortalServer(config).run()
    return 0
