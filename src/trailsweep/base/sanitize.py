"""Server text made safe to show: one function, `clean`, for every string a server wrote
that reaches stderr, the summary JSON, a checkpoint or `trailsweep status`.

A server's error message is not ours: it may hold newlines (a forged second summary
line), ANSI escapes (a cleared screen, a recoloured line, a rewritten window title),
bidi overrides, megabytes of body, or an echo of what was sent to it: the session
token, the Authorization header, the access key id. So, in this order:

1. redact every credential trailsweep holds (`remember`ed as they are loaded or
   assumed), then anything shaped like one: AKIA/ASIA-style key ids, `Signature=`,
   `Credential=`, `Authorization:`, `X-Amz-Security-Token`, `SecretAccessKey` /
   `SessionToken` / `aws_secret_access_key` values, and 40+ character base64 runs that
   mix upper case, lower case and digits (secret keys are 40 of them, tokens hundreds);
2. escape control, format and line/paragraph separator characters (`\\n`, `\\x1b`,
   `\\u202e`), so the text stays one line and prints as written;
3. cut to `limit` characters (300 by default), saying how much was left out.

Redacting first means a secret is found whole; escaping before cutting means the cut
never leaves a raw escape sequence behind.
"""

from __future__ import annotations

import re
import unicodedata

LIMIT = 300
REDACTED = "[redacted]"
_REMEMBERED_MAX = 10_000  # credentials kept for redaction (3 per assumed account and refresh)
_remembered: dict[str, None] = {}  # insertion-ordered set

_PATTERNS = [
    # key=value / key: value pairs whose value is a credential or a signature
    re.compile(
        r"(?i)((?:Signature|Credential|X-Amz-Security-Token|X-Amz-Credential|X-Amz-Signature"
        r"|SecretAccessKey|SessionToken|SecretKey|aws_secret_access_key|aws_session_token"
        r"|secret_key|session_token)\"?\s*[=:]\s*\"?)[^\s,;\"'&<]+"
    ),
    # an Authorization header, to the end of its line
    re.compile(r"(?i)(Authorization\"?\s*[=:]\s*\"?)[^\r\n\"]+"),
    # access key ids: AKIA (long-term), ASIA (session) and the other IAM unique-id kinds
    # that are keys rather than names
    re.compile(r"()\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}\b"),
    # secret keys and session tokens with no key in front of them
    re.compile(
        r"()(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+=]*[0-9])(?=[A-Za-z0-9/+=]*[a-z])"
        r"(?=[A-Za-z0-9/+=]*[A-Z])[A-Za-z0-9/+=]{40,}"
    ),
]
_ESCAPED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def remember(*secrets: str | None) -> None:
    """Credentials to redact wherever they appear (the current access key id, secret and
    session token of every session). Short values are ignored: redacting a 3-character
    string everywhere would eat ordinary words."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret not in _remembered:
            if len(_remembered) >= _REMEMBERED_MAX:
                del _remembered[next(iter(_remembered))]
            _remembered[secret] = None


def redact(text: str) -> str:
    """`text` with every remembered credential and everything shaped like one replaced."""
    for secret in sorted((s for s in _remembered if s in text), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def escape(text: str) -> str:
    """`text` with control, format and line-separator characters written as escapes."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if not ch.isprintable() or unicodedata.category(ch) in _ESCAPED_CATEGORIES
        else ch
        for ch in text
    )


def cap(text: str, limit: int = LIMIT) -> str:
    """`text` cut to at most `limit` characters, ending with how long it was."""
    if len(text) <= limit:
        return text
    suffix = f"... ({len(text)} characters in all)"
    return text[: max(0, limit - len(suffix))] + suffix


def clean(text: object, limit: int = LIMIT) -> str:
    """Server text safe for one line of stderr, a JSON summary or a checkpoint: credentials
    redacted, control characters escaped, at most `limit` characters."""
    return cap(escape(redact(str(text))), limit)
