"""Server text made safe to show: one function, `clean` (`Secrets.clean` where credentials
are held), for every string a server wrote that reaches stderr, the summary JSON, a
checkpoint or `trailsweep status`.

A server's error message is not ours: it may hold newlines (a forged second summary
line), ANSI escapes (a cleared screen, a recoloured line, a rewritten window title),
bidi overrides, megabytes of body, or an echo of what was sent to it: the session
token, the Authorization header, the access key id. So, in this order:

1. redact every credential its owner holds (a `Secrets` set, to which a sweep's sessions
   `remember` each credential as they load or assume it), then anything shaped like
   one: AKIA/ASIA-style key ids, `Signature=`, `Credential=`, `Authorization:`,
   `X-Amz-Security-Token`, `SecretAccessKey` / `SessionToken` / `aws_secret_access_key`
   values, and 40+ character base64 runs that mix upper case, lower case and digits
   (secret keys are 40 of them, tokens hundreds);
2. escape control, format and line/paragraph separator characters (`\\n`, `\\x1b`,
   `\\u202e`), so the text stays one line and prints as written;
3. cut to `limit` characters (300 by default), saying how much was left out.

Redacting first means a secret is found whole; escaping before cutting means the cut
never leaves a raw escape sequence behind.

There is no process-wide set of secrets: each sweep (and each `lookup-events` run) owns a
`Secrets` and passes it where server text is cleaned, so two sweeps in one process never
hold or evict each other's credentials. The module's `clean` and `redact`, for text that
no owner of credentials handles (a checkpoint read back, a config error), redact only
what is shaped like a credential.
"""

from __future__ import annotations

import re
import unicodedata

LIMIT = 300
REDACTED = "[redacted]"
_REMEMBERED_MAX = 10_000  # credentials kept for redaction (3 per assumed account and refresh)

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


class Secrets:
    """The credentials one owner holds (a sweep, a `lookup-events` run), redacted wherever a
    server echoes them:

        secrets = Secrets()
        secrets.remember(access_key, secret_key, token)
        secrets.clean(message)  # -> "... [redacted] ..."
    """

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[str, None] = {}  # insertion-ordered set: the oldest goes first

    def __contains__(self, secret: object) -> bool:
        return secret in self._known

    def __len__(self) -> int:
        return len(self._known)

    def remember(self, *secrets: str | None) -> None:
        """Credentials to redact wherever they appear (the current access key id, secret
        and session token of every session). Short values are ignored: redacting a
        3-character string everywhere would eat ordinary words."""
        known = self._known
        for secret in secrets:
            if secret and len(secret) >= 8 and secret not in known:
                if len(known) >= _REMEMBERED_MAX:
                    del known[next(iter(known))]
                known[secret] = None

    def redact(self, text: str) -> str:
        """`text` with every credential remembered here and everything shaped like one
        replaced."""
        for secret in sorted((s for s in self._known if s in text), key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return redact(text)

    def clean(self, text: object, limit: int = LIMIT) -> str:
        """`clean`, redacting the credentials remembered here too."""
        return cap(escape(self.redact(str(text))), limit)


def redact(text: str) -> str:
    """`text` with everything shaped like a credential replaced (`Secrets.redact` also
    replaces the credentials its owner remembered)."""
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
    """Server text safe for one line of stderr, a JSON summary or a checkpoint: anything
    shaped like a credential redacted, control characters escaped, at most `limit`
    characters (`Secrets.clean` also redacts its owner's credentials)."""
    return cap(escape(redact(str(text))), limit)
