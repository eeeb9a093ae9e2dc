"""API tokens: how they are made, which ones are refused, and what is stored of them.

A token is ``hpo_`` and 43 URL-safe random characters (256 bits). Only its SHA-256 is stored: a
token is as long and random as a key, so a slow password hash would add nothing. The configured
admin token (``HPO_API_TOKEN``) is refused outside development when it is short, a well-known
default, or of low entropy (few distinct characters, a common word with digits).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from pydantic import SecretStr

MIN_TOKEN_LENGTH = 16
MIN_DISTINCT_CHARACTERS = 8
TOKEN_PREFIX = "hpo_"
KNOWN_DEFAULT_TOKENS = frozenset(
    {"changeme", "change-me", "changethis", "change_this", "secret", "token", "password", "default", "admin", "hpo"}
    | {"test", "dev", "development", "api-token", "hpo-token", "changeme123", "secret-token", "0" * 32}
)
COMMON_WORDS = ("password", "passw0rd", "secret", "changeme", "admin", "qwerty", "letmein", "welcome", "token", "hpo")
TOKEN_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token (surrounding whitespace is not part of it)."""
    return hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).hexdigest()


def token_problem(token: SecretStr | None, variable: str = "HPO_API_TOKEN") -> str | None:
    """Why ``token`` is unfit outside development, or None when it is fine."""
    value = token.get_secret_value().strip() if token is not None else ""
    lowered = value.lower()
    if not value:
        return f"{variable} is not set"
    if lowered in KNOWN_DEFAULT_TOKENS:
        return f"{variable} is a well-known default"
    if len(value) < MIN_TOKEN_LENGTH:
        return f"{variable} is shorter than {MIN_TOKEN_LENGTH} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"{variable} has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters (too easy to guess)"
    leftover = lowered
    for word in COMMON_WORDS:
        leftover = leftover.replace(word, "")
    if leftover != lowered and (leftover.isdigit() or len(set(leftover)) < MIN_DISTINCT_CHARACTERS):
        return f"{variable} is a common word with digits (too easy to guess)"
    return None


def name_problem(name: str) -> str | None:
    if not TOKEN_NAME_PATTERN.match(name):
        return "a token name is 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit"
    return None
