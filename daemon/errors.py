"""Errors a user can act on. Each carries the exit code the CLI returns (sysexits.h)."""

from __future__ import annotations


class CollabdError(Exception):
    """Something the user can fix; the message says exactly what and where."""

    exit_code = 1


class UsageError(CollabdError):
    exit_code = 64  # EX_USAGE


class DataError(CollabdError):
    """Input data (a CSV, a TOML file, a mail) is wrong."""

    exit_code = 65  # EX_DATAERR


class NotFound(CollabdError):
    exit_code = 1


class ConfigError(CollabdError):
    exit_code = 78  # EX_CONFIG


class SignInRefused(CollabdError):
    """The identity provider or a mail server said no (`collabd auth`)."""

    exit_code = 69  # EX_UNAVAILABLE
