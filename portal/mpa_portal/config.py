"""The portal's one configuration file (portal/portal.conf.example)."""

import configparser
import os


class ConfigError(Exception):
    pass


DEFAULTS = {
    "listen": "127.0.0.1:8443",
    "host": "/var/run/postgresql",
    "port": "5432",
    "database": "postgres",
    "sslmode": "prefer",
    "tls": "on",
    "tls_certificate": "",
    "tls_key": "",
    "behind_proxy": "no",
    "threads": "8",
    "session_idle_minutes": "15",
    "session_max_hours": "8",
    "max_sessions": "100",
    "signin_failures_per_address": "10",
    "signin_failures_per_user": "5",
    "signin_window_minutes": "15",
    "access_log": "-",
    "error_log": "-",
}


class Config:
    """The [portal] section, read and checked once at start."""

    def __init__(self, values):
        self.listen = values["listen"]
        self.host = values["host"]
        self.port = self._int(values, "port", 1, 65535)
        self.database = values["database"]
        self.sslmode = values["sslmode"]
        self.tls = self._bool(values, "tls")
        self.tls_certificate = values["tls_certificate"]
        self.tls_key = values["tls_key"]
        self.behind_proxy = self._bool(values, "behind_proxy")
        self.threads = self._int(values, "threads", 1, 256)
        self.session_idle = 60 * self._int(values, "session_idle_minutes", 1, 24 * 60)
        self.session_max = 3600 * self._int(values, "session_max_hours", 1, 7 * 24)
        self.max_sessions = self._int(values, "max_sessions", 1, 10000)
        self.failures_per_address = self._int(values, "signin_failures_per_address", 1, 100000)
        self.failures_per_user = self._int(values, "signin_failures_per_user", 1, 100000)
        self.signin_window = 60 * self._int(values, "signin_window_minutes", 1, 24 * 60)
        self.access_log = values["access_log"]
        self.error_log = values["error_log"]
        if self.tls:
            for key in ("tls_certificate", "tls_key"):
                path = getattr(self, key)
                if not path or not os.access(path, os.R_OK):
                    raise ConfigError(f"{key} must name a readable file when tls = on (got {path!r})")
        elif not self.behind_proxy:
            # Cookies are Secure: without TLS here, a browser only keeps them
            # through a proxy that speaks HTTPS to it.
            raise ConfigError("tls = off is only for a reverse proxy that terminates TLS: "
                              "set behind_proxy = yes as well")

    @staticmethod
    def _int(values, key, low, high):
        try:
            value = int(values[key])
        except ValueError:
            raise ConfigError(f"{key} must be a whole number, not {values[key]!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{key} must be between {low} and {high}")
        return value

    @staticmethod
    def _bool(values, key):
        value = values[key].strip().lower()
        if value in ("on", "yes", "true", "1"):
            return True
        if value in ("off", "no", "false", "0"):
            return False
        raise ConfigError(f"{key} must be on or off, not {values[key]!r}")

    def conninfo(self):
        """Where the approvers' connections go; user and password come from the sign-in."""
        return {"host": self.host, "port": self.port, "dbname": self.database,
                "sslmode": self.sslmode, "application_name": "pg_mpa portal", "connect_timeout": 10}


def load(path):
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise ConfigError(f"cannot read {path}")
    if not parser.has_section("portal"):
        raise ConfigError(f"{path} has no [portal] section")
    unknown = set(parser["portal"]) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    values = dict(DEFAULTS)
    values.update(parser["portal"])
    return Config(values)
