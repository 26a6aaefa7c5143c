"""Agora AccessToken2 ("007...") parsing, verification and building (docs/engine-api.md).

Layout: `"007" + base64(zlib(pack_str(signature) + signing_info))` with
`signing_info = pack_str(app_id) + u32 issue_ts + u32 expire + u32 salt + u16 n + services`,
all little-endian; a service is `u16 type + map<u16,u32> privileges + type-specific strings`.
The signature is `HMAC_SHA256(key2, signing_info)` where
`key1 = HMAC_SHA256(key=u32(issue_ts), msg=app_certificate)` and
`key2 = HMAC_SHA256(key=u32(salt), msg=key1)`. `expire` and the privilege values are seconds
relative to `issue_ts`.

Implemented from the format alone (no SDK import); the tests check it against tokens minted by
`agora_agent.agentkit.token`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass, field

VERSION = "007"
SERVICE_RTC = 1
SERVICE_RTM = 2
SERVICE_FPA = 4
SERVICE_CHAT = 5
SERVICE_APAAS = 7
PRIVILEGE_JOIN_CHANNEL = 1

#: Number of strings that follow the privilege map, per service type.
_SERVICE_STRINGS = {SERVICE_RTC: 2, SERVICE_RTM: 1, SERVICE_FPA: 0, SERVICE_CHAT: 1}


class TokenError(ValueError):
    """The token is malformed, forged, for another App ID, or expired."""


@dataclass(frozen=True)
class Service:
    """One service of a token: its type, privileges (id → seconds) and strings."""

    type: int
    privileges: dict[int, int]
    strings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessToken2:
    """A parsed (not yet verified) AccessToken2."""

    app_id: str
    issue_ts: int
    expire: int
    salt: int
    services: tuple[Service, ...]
    signature: bytes = field(repr=False)
    signing_info: bytes = field(repr=False)

    @property
    def expires_at(self) -> int:
        """Unix second at which the token itself expires."""
        return self.issue_ts + self.expire

    @property
    def rtc_expires_at(self) -> int:
        """When the agent loses the channel: token expiry, or the earlier RTC join privilege."""
        expiry = self.expires_at
        for service in self.services:
            if service.type == SERVICE_RTC:
                join = service.privileges.get(PRIVILEGE_JOIN_CHANNEL, 0)
                if join > 0:
                    expiry = min(expiry, self.issue_ts + join)
        return expiry

    def signature_matches(self, app_certificate: str) -> bool:
        """Whether the signature was made with `app_certificate`."""
        expected = _sign(app_certificate, self.issue_ts, self.salt, self.signing_info)
        return hmac.compare_digest(expected, self.signature)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise TokenError("token is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u16(self) -> int:
        value: int = struct.unpack("<H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u16())


def parse(token: str) -> AccessToken2:
    """Parse a token string; raises TokenError if it is not a well-formed AccessToken2."""
    if not token.startswith(VERSION):
        raise TokenError("not an AccessToken2 (expected the 007 prefix)")
    try:
        packed = zlib.decompress(base64.b64decode(token[len(VERSION) :], validate=True))
    except (binascii.Error, zlib.error, ValueError) as exc:
        raise TokenError("token is not valid base64/zlib") from exc
    reader = _Reader(packed)
    signature = reader.string()
    signing_info = packed[reader.pos :]
    info = _Reader(signing_info)
    try:
        app_id = info.string().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokenError("token app id is not text") from exc
    issue_ts, expire, salt = info.u32(), info.u32(), info.u32()
    services: list[Service] = []
    for _ in range(info.u16()):
        service_type = info.u16()
        privileges = {}
        for _ in range(info.u16()):
            key = info.u16()
            privileges[key] = info.u32()
        strings: tuple[bytes, ...]
        if service_type == SERVICE_APAAS:
            strings = (info.string(), info.string())
            info.take(2)  # role (int16)
        elif service_type in _SERVICE_STRINGS:
            strings = tuple(info.string() for _ in range(_SERVICE_STRINGS[service_type]))
        else:
            # Unknown service layout: keep what was read; the signature still covers it all.
            services.append(Service(service_type, privileges))
            break
        decoded = tuple(s.decode("utf-8", "replace") for s in strings)
        services.append(Service(service_type, privileges, decoded))
    return AccessToken2(
        app_id=app_id,
        issue_ts=issue_ts,
        expire=expire,
        salt=salt,
        services=tuple(services),
        signature=signature,
        signing_info=signing_info,
    )


def verify(token: str, *, app_certificate: str, app_id: str, now: float) -> AccessToken2:
    """Parse and verify signature, App ID and expiry; raises TokenError with the cause."""
    parsed = parse(token)
    if parsed.app_id != app_id:
        raise TokenError("token was issued for another app id")
    if not parsed.signature_matches(app_certificate):
        raise TokenError("token signature does not match the app certificate")
    if parsed.expires_at <= now:
        raise TokenError("token has expired")
    return parsed


def join_problem(
    parsed: AccessToken2, *, app_certificate: str, app_id: str, channel: str, uid: str
) -> str | None:
    """Why an agent holding this token cannot join `channel` as `uid` (None: it can).

    Checks the App ID, the signature, an RTC service with the join privilege, its channel and
    its account (empty, i.e. uid 0, allows any uid). The expiry is the caller's (it is read
    against the clock the token was minted with).
    """
    if parsed.app_id != app_id:
        return "token was issued for another app id"
    if not parsed.signature_matches(app_certificate):
        return "token signature does not match the app certificate"
    rtc = [s for s in parsed.services if s.type == SERVICE_RTC and len(s.strings) == 2]
    if not rtc or all(PRIVILEGE_JOIN_CHANNEL not in s.privileges for s in rtc):
        return "token grants no RTC join-channel privilege"
    token_channel, account = rtc[0].strings
    if token_channel != channel:
        return f"token was issued for channel {token_channel!r}, not {channel!r}"
    if account not in ("", "0") and account != uid:
        return f"token was issued for uid {account!r}, not {uid!r}"
    return None


def _sign(app_certificate: str, issue_ts: int, salt: int, signing_info: bytes) -> bytes:
    key = hmac.new(struct.pack("<I", issue_ts), app_certificate.encode(), hashlib.sha256).digest()
    key = hmac.new(struct.pack("<I", salt), key, hashlib.sha256).digest()
    return hmac.new(key, signing_info, hashlib.sha256).digest()


def _pack_string(value: bytes) -> bytes:
    return struct.pack("<H", len(value)) + value


def build(
    app_id: str,
    app_certificate: str,
    *,
    issue_ts: int,
    expire: int,
    salt: int = 1,
    services: tuple[Service, ...] = (),
) -> str:
    """Build a signed AccessToken2 (for tests and tools that need a chosen `issue_ts`)."""
    info = _pack_string(app_id.encode()) + struct.pack(
        "<IIIH", issue_ts, expire, salt, len(services)
    )
    for service in services:
        info += struct.pack("<HH", service.type, len(service.privileges))
        for key in sorted(service.privileges):
            info += struct.pack("<HI", key, service.privileges[key])
        for text in service.strings:
            info += _pack_string(text.encode())
    signature = _sign(app_certificate, issue_ts, salt, info)
    return VERSION + base64.b64encode(zlib.compress(_pack_string(signature) + info)).decode()


def rtc_service(channel: str, uid: int, seconds: int) -> Service:
    """An RTC service with join and publish privileges for `seconds` (uid 0 = any uid)."""
    account = "" if uid == 0 else str(uid)
    return Service(
        SERVICE_RTC, {1: seconds, 2: seconds, 3: seconds, 4: seconds}, (channel, account)
    )
