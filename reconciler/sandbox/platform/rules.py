"""Every rule of the sandbox's Platform API in one place: documented facts and the choices made
where the documentation is silent.

The choices are marked ``UNCONFIRMED`` (docs/platform-api.md lists them); each one is a constant
here, so correcting the sandbox when the real behaviour is known is a one-line change.
"""

from __future__ import annotations

import re

PREFIX = "/conversational-ai/v1/projects/{appid}"
"""Path of every Platform route (documented)."""

OPERATIONS = (
    "create-secret-set",
    "list-secret-sets",
    "retrieve-secret-set",
    "replace-secret-set",
    "update-secret-set",
    "delete-secret-set",
    "set-secret-key",
    "delete-secret-key",
    "create-agent",
    "list-agents",
    "retrieve-agent",
    "update-agent",
    "delete-agent",
    "create-number",
    "list-numbers",
    "retrieve-number",
    "update-number",
    "delete-number",
    "start-session",
    "start-ephemeral-session",
    "list-sessions",
    "retrieve-session",
    "update-session",
    "stop-session",
    "create-campaign",
    "list-campaigns",
    "retrieve-campaign",
    "campaign-action",
    "delete-campaign",
)
"""The Platform's operations by their documented ids (``retrieve-campaign`` and
``campaign-action``, which serves ``:cancel``/``:pause``/``:resume``, are the sandbox's names).
Request logs and fault rules name routes by these."""
REQUEST_ID_HEADER = "Agora-Request-Id"
"""Every response carries one (documented)."""

# -- identifiers and names (documented) --------------------------------------------------------
NAME_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
"""Secret set names and key names: 1 to 64 of A-Z, a-z, 0-9 and _ (documented)."""
VARIABLE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""Variable names: a lowercase letter, then up to 64 lowercase letters, digits and _ in all."""
SESSION_ID_LENGTH = 32
"""Session ids are 32 lowercase letters and digits (documented); other ids are UUIDs."""
MAX_SECRET_SET_BYTES = 64 * 1024
"""A set holds at most 64 KiB: the UTF-8 size of its keys and values as one JSON object."""
AGENT_NAME_MAX = 255
CAMPAIGN_NAME_MAX = 255
NUMBER_MAX_CHARS = 128
CHANNEL_MAX = 256
MAX_CAMPAIGN_FROM = 100
MESSAGE_ROLES = ("system", "user", "assistant")
CREDENTIAL_MODES = ("managed", "byok")
SIP_TRANSPORTS = ("tls", "udp", "tcp")
SIP_DEFAULT_PORTS = {"tls": 5061, "udp": 5060, "tcp": 5060}
SIP_DEFAULT_TRANSPORT = "udp"
"""UNCONFIRMED: the transport of a trunk that names none."""
SECRET_REF_RE = re.compile(r"\$secrets\.([A-Za-z0-9_]{1,64})\.([A-Za-z0-9_]{1,64})")
"""A reference to a secret: ``$secrets.<set>.<key>`` (documented)."""

# -- lists (documented, except where marked) ----------------------------------------------------
DEFAULT_LIMIT = 50
MAX_LIMIT = {
    "secret_set": 200,
    "agent": 200,
    "number": 100,
    "campaign": 100,  # UNCONFIRMED: the campaign list's range was not captured
    "session": 100,  # UNCONFIRMED: the session list's limit and cursor were not captured
}
ORDERS = ("create_ts.desc", "create_ts.asc")
SESSION_LIST_WINDOW_S = 2 * 3600
"""list-sessions default: sessions started in the last two hours (documented)."""
SESSION_STATUSES = ("IDLE", "STARTING", "RUNNING", "STOPPING", "STOPPED", "FAILED")
SESSION_DEFAULT_STATUS_FILTER = ("RUNNING",)
CAMPAIGN_STATUSES = ("scheduled", "running", "paused", "completed", "canceled", "failed")
CAMPAIGN_FINISHED = ("completed", "canceled", "failed")
LIST_ITEMS_ARE_FULL_VIEWS = True
"""UNCONFIRMED: list items carry the same fields as a retrieve (the documented example shows
the id, the name and the timestamps, and is cut off)."""

# -- statuses and reasons ------------------------------------------------------------------------
CREATED = 201
"""Creates answer 201 (documented); starting a session answers 200 (documented)."""
REASON_STATUS: dict[str, int] = {
    "InvalidPermission": 401,  # documented
    "PreconditionFailed": 412,  # documented
    "IdempotencyKeyConflict": 409,  # documented
    "SecretSetAlreadyExists": 409,  # reason documented, status UNCONFIRMED
    "SecretSetInUse": 409,  # reason documented, status UNCONFIRMED
    "NotImplemented": 501,  # reason documented, status UNCONFIRMED
    "InvalidRequest": 400,  # status documented (validation), reason UNCONFIRMED (v2's name)
    "InvalidReference": 400,  # UNCONFIRMED: a reference to a secret, agent or number that does
    # not exist (the docs say references are checked, not how a failure is worded)
    "NotFound": 404,  # UNCONFIRMED
    "AgentInUse": 409,  # UNCONFIRMED (refusal documented, reason not captured)
    "NumberInUse": 409,  # UNCONFIRMED: a number an unfinished campaign calls from
    "NumberAlreadyExists": 409,  # UNCONFIRMED: a number is unique in a project
    "CampaignNotFinished": 409,  # UNCONFIRMED (refusal documented, reason not captured)
    "CampaignFinished": 409,  # UNCONFIRMED: cancel, pause or resume of a finished campaign
    "SessionNotActive": 409,  # UNCONFIRMED: update of a session that has stopped
    "PreconditionRequired": 428,  # UNCONFIRMED: a required If-Match is missing (RFC 6585)
    "MethodNotAllowed": 405,  # UNCONFIRMED
}
"""Every reason the sandbox's Platform routes answer with, and its HTTP status."""
KEY_IN_USE_REASON = "SecretSetInUse"
"""UNCONFIRMED: removing a key an agent references is refused with the set's reason."""
LAST_KEY_REASON = "InvalidRequest"
"""UNCONFIRMED: removing a set's last key (documented as refused) is a 400."""

# -- optimistic concurrency -----------------------------------------------------------------------
IF_MATCH_REQUIRED = frozenset(
    {
        "replace-secret-set",  # documented
        "delete-secret-set",  # documented
        "update-number",  # documented
        "update-agent",  # UNCONFIRMED (docs word it as the required variant)
    }
)
"""Operations that refuse a request without ``If-Match`` (428 PreconditionRequired)."""
IF_MATCH_OPTIONAL = frozenset(
    {
        "update-secret-set",  # documented
        "set-secret-key",  # documented (the key's ETag)
        "delete-secret-key",  # documented (the key's ETag)
        "delete-agent",  # UNCONFIRMED: not listed, honoured when sent
        "delete-number",  # UNCONFIRMED: not listed, honoured when sent
    }
)
"""Operations that check ``If-Match`` when it is sent."""
WILDCARD_IF_MATCH = True
"""UNCONFIRMED: ``If-Match: *`` matches any current version (RFC 9110)."""
UNCHANGED_WRITE_KEEPS_ETAG = True
"""UNCONFIRMED: a write that changes nothing keeps the ETag and ``update_ts`` (a key written
with the value it has keeps its ETag: "repeating the request is safe")."""

# -- bodies ---------------------------------------------------------------------------------------
UNKNOWN_FIELDS_REFUSED = True
"""UNCONFIRMED: a field the sandbox does not know is a 400 (secret sets, numbers and their
trunks, sessions, campaigns); agent configurations keep them (``UNKNOWN_AGENT_FIELDS_KEPT``)."""
SECRET_VALUE_MIN_CHARS = 1
"""UNCONFIRMED: a secret value is a string of at least this many characters."""
TRUNK_NAME_MAX = 255
"""UNCONFIRMED: the longest ``sip_trunk.name``."""
NUMBERS_UNIQUE = True
"""UNCONFIRMED: a phone number (its E.164 digits) exists once in a project
(``NumberAlreadyExists``)."""

# -- references and write-only values -----------------------------------------------------------
PIPELINE_STAGES = ("asr", "llm", "tts")
"""UNCONFIRMED: the top-level keys of an agent's pipeline stages (each may carry
``credential: {mode, fields}``, ``vendor``, ``model``, ``params``)."""
REFS_ONLY_IN_CREDENTIAL_FIELDS = True
"""UNCONFIRMED: a ``$secrets`` reference anywhere but a stage's ``credential.fields`` is a 400
(the docs: "Keep credentials out of params")."""
SAVED_AGENTS_REFS_ONLY = True
"""Saved agents accept only references in ``credential.fields`` (documented); ephemeral agents
may carry keys inline (documented by the SDK)."""
UNKNOWN_AGENT_FIELDS_KEPT = True
"""UNCONFIRMED: fields of an agent body the sandbox does not know are stored and returned as
given (the documented field list was cut off), not refused."""

# -- sessions and campaigns ---------------------------------------------------------------
IDEMPOTENCY_KEY_TTL_S = 24 * 3600
"""UNCONFIRMED: how long an ``Idempotency-Key`` is remembered."""
IDEMPOTENCY_KEY_MAX = 255
"""UNCONFIRMED: the longest ``Idempotency-Key``."""
VALUES_ONLY_DECLARED = True
"""UNCONFIRMED: a session's ``values`` (and a campaign contact's) may name only variables its
agent declares."""
STOP_OF_STOPPED_IS_NOOP = True
"""UNCONFIRMED: stopping a session that is not running answers ``{}`` (else 409
``SessionNotActive``)."""
CAMPAIGN_START_IN_FUTURE = True
"""UNCONFIRMED: a scheduled campaign's start time must be in the future."""
TELEPHONY_FIELDS = ("from", "to")
"""UNCONFIRMED: a telephony transport names the number to call from (``from``: a number_id)
and the number to call (``to``: E.164)."""
CAMPAIGN_SCHEDULE_MODES = ("immediate", "scheduled")
CAMPAIGN_START_FIELDS = ("start_time", "time_zone")
"""UNCONFIRMED: a scheduled campaign's local start time (ISO 8601, no offset) and its IANA
time zone."""
CAMPAIGN_ACTIONS = ("cancel", "pause", "resume")
"""``:cancel`` is documented; ``:pause`` and ``:resume`` are UNCONFIRMED (the status
``paused`` is documented, the operations were not captured)."""
E164_RE = re.compile(r"\+[1-9][0-9]{1,14}")
NUMBER_FORMATTING = " -().\u00a0"
"""UNCONFIRMED: characters a reformatted number may add around its digits."""
