"""collabd's configuration: the schema (with the embedded defaults) and its loader."""

from .loader import ENV_VAR, ConfigProblems, config_path, load_settings, secret_from, validate
from .schema import Settings

__all__ = [
    "ENV_VAR",
    "ConfigProblems",
    "Settings",
    "config_path",
    "load_settings",
    "secret_from",
    "validate",
]
