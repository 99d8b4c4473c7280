"""The server's settings: validated data (pydantic), from the command line or a ``[serve]`` TOML table."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from socialvalue.config import ConfigModel

__all__ = ["ServeSettings"]


class ServeSettings(ConfigModel):
    """How ``socialvalue serve`` runs.

    Attributes
    ----------
    store
        The DuckDB store whose published runs are served (``STORE.serving/`` beside it).
    host, port
        Where uvicorn listens; loopback by default.
    cors_origins
        Origins allowed to call the API from a browser; empty (the default) sends no CORS header at all.
    max_body_mb
        Largest request body accepted (``413`` above it).
    rate_limit_per_minute
        Requests a key may make a minute (a token bucket of this size, refilled continuously); ``429`` above.
    pseudonymize
        Replace every customer id in responses by its HMAC-SHA256 pseudonym (key in
        ``SOCIALVALUE_PSEUDONYM_KEY``), and take pseudonyms in paths.
    poll_seconds
        How often the server looks for a newly published run.
    run_nice
        Niceness added to a rescoring run's child process, so reads keep their latency while it runs.
    """

    store: Path
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    cors_origins: list[str] = Field(default_factory=list)
    max_body_mb: float = Field(64.0, gt=0, le=4096)
    rate_limit_per_minute: int = Field(6000, ge=1, le=10_000_000)
    pseudonymize: bool = False
    poll_seconds: float = Field(0.2, gt=0, le=60)
    run_nice: int = Field(10, ge=0, le=19)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or "*" in origin
                or parts.path
                or parts.query
                or parts.fragment
                or parts.username
            ):
                # a browser sends its origin as scheme://host[:port]; anything else would never match
                raise ValueError(
                    f"a CORS origin is scheme://host[:port] as a browser sends it, such as "
                    f"https://crm.example.com (no path, no trailing slash, no wildcard), not {origin!r}"
                )
        return value

    @property
    def loopback(self) -> bool:
        """Whether the server listens on a loopback address only."""
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"
