"""The library's exception for input a user can fix: bad data files, impossible settings.

The command line (`nndl.run.cli`) reports any `NndlError` as exit status 2 and its
message as ONE line, never a traceback; library callers catch it like a `ValueError`.
"""


class NndlError(ValueError):
    """Input a user can fix; the message is one line that names the file or setting and what is wrong."""


class DataError(NndlError):
    """A data file that cannot be used: unreadable, malformed, wrong shape, non-finite values."""


class ConfigError(NndlError):
    """A setting (flag or config value) that is out of range or inconsistent with another."""
