"""API keys: random secrets shown once, stored only as SHA-256 hashes, each with a role.

A key reads ``sv_<key id>_<secret>``: the key id (8 hex digits) finds the record, the secret (32 random bytes,
URL-safe base64) is checked against the stored hash with a constant-time comparison. The secret has 256 bits
of entropy, so a fast hash is enough: no dictionary or brute-force attack on the hash can succeed (a slow
password hash protects low-entropy secrets, which these are not). Keys live in ``STORE.serving/keys.json``
(mode 0600), written atomically; the server reads the file again when it changes, so a key created or revoked
while it runs takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from socialvalue.atomic import atomic_path
from socialvalue.errors import ConfigError, StoreError

__all__ = ["ROLES", "ApiKey", "KeyRing"]

#: Roles, each allowed everything the roles before it are.
ROLES = ("read", "write", "admin")
_KEY = re.compile(r"^sv_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
FILE_NAME = "keys.json"


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its id, role, name and creation time (never the secret)."""

    key_id: str
    role: str
    name: str
    created_at: str

    def allows(self, role: str) -> bool:
        """Whether this key's role is ``role`` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    """The keys of one serving folder.

    Parameters
    ----------
    folder
        ``STORE.serving/`` (created when a key is first written).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / FILE_NAME
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, dict[str, str]] = {}

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._records = None, {}
            return self._records
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)  # each write is a new file (a new inode)
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                records = {r["key_id"]: r for r in data.get("keys", [])}
            except (ValueError, KeyError, TypeError, AttributeError):
                raise StoreError(
                    f"the API key file {self.path} is not valid JSON written by socialvalue; "
                    "remove it and create the keys again"
                ) from None
            self._stamp, self._records = stamp, records
        return self._records

    def _write(self, records: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"keys": sorted(records.values(), key=lambda r: r["created_at"])}, indent=1)
        with atomic_path(self.path) as tmp:
            try:
                os.chmod(tmp, 0o600)  # before the hashes are written: never readable by others
                tmp.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise StoreError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._stamp = None

    def create(self, role: str, name: str = "") -> tuple[ApiKey, str]:
        """Create a key with ``role``; return its record and the key itself (shown once, never stored).

        Raises
        ------
        ConfigError
            If ``role`` is not one of :data:`ROLES`.
        """
        if role not in ROLES:
            raise ConfigError(f"a key's role is one of {', '.join(ROLES)}, not {role!r}")
        if len(name) > 100 or any(ord(c) < 32 for c in name):
            raise ConfigError("a key's name is at most 100 printable characters")
        with self._lock:
            records = dict(self._read())
            key_id = secrets.token_hex(4)
            while key_id in records:
                key_id = secrets.token_hex(4)
            secret = secrets.token_urlsafe(32)
            record = {
                "key_id": key_id,
                "role": role,
                "name": name,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "sha256": _digest(secret),
            }
            records[key_id] = record
            self._write(records)
        return self._public(record), f"sv_{key_id}_{secret}"

    @staticmethod
    def _public(record: dict[str, str]) -> ApiKey:
        return ApiKey(record["key_id"], record["role"], record.get("name", ""), record["created_at"])

    def list(self) -> list[ApiKey]:
        """Every key's record, oldest first."""
        with self._lock:
            return [self._public(r) for r in sorted(self._read().values(), key=lambda r: r["created_at"])]

    def revoke(self, key_id: str) -> bool:
        """Remove the key ``key_id``; return whether it existed."""
        with self._lock:
            records = dict(self._read())
            if key_id not in records:
                return False
            del records[key_id]
            self._write(records)
        return True

    def verify(self, presented: str | None) -> ApiKey | None:
        """The key record ``presented`` belongs to, or ``None`` (unknown, revoked or malformed)."""
        if not presented:
            return None
        m = _KEY.match(presented.strip())
        if m is None:
            return None
        with self._lock:
            record = self._read().get(m.group(1))
        if record is None or not hmac.compare_digest(record["sha256"], _digest(m.group(2))):
            return None
        return self._public(record)
