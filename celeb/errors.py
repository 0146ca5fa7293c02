"""The errors `celeb` reports, and the exit status each one maps to.

Every failure reaches the user as one `error: ...` line on stderr, never a traceback.

Exit status:
    0    success
    1    recognition failed: the function returned an error for at least one image, or a video got
         no result before the wait's deadline
    2    usage: bad option or argument, file not found, not a JPEG/PNG file
    3    configuration: stack not found, a required stack output missing (e.g. no results table),
         no region, unknown profile, the function or bucket named by the stack is gone, a results
         table item this client cannot read (a stack of another version)
    4    AWS access: no or invalid credentials, access denied, endpoint unreachable, other AWS errors
    5    throttled: AWS still throttled the call after the bounded retries
    130  interrupted (Ctrl-C)

When several images fail for different reasons, the highest of their codes is the exit status.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    AWS_ACCESS = 4
    THROTTLED = 5
    INTERRUPTED = 130


class CelebError(Exception):
    """A failure explained to the user in one line; subclasses pick the exit status."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Backfill groups failures by this; for AWS errors it is the service's error code.
        self.error_type = error_type or type(self).__name__

    @property
    def reason(self) -> str:
        """The message without the error type, for places that show the type beside it."""
        return self.message


class UsageProblem(CelebError):
    exit_code = ExitCode.USAGE


class ConfigProblem(CelebError):
    exit_code = ExitCode.CONFIG


class AwsAccessProblem(CelebError):
    exit_code = ExitCode.AWS_ACCESS


class Throttled(CelebError):
    exit_code = ExitCode.THROTTLED


class FunctionFailed(CelebError):
    """The function ran and returned an error payload (`errorType`, `errorMessage`)."""

    exit_code = ExitCode.FAILED

    def __init__(self, error_type: str, error_message: str) -> None:
        super().__init__(f"{error_type}: {error_message}", error_type=error_type)
        self.error_message = error_message

    @property
    def reason(self) -> str:
        return self.error_message


def worst_exit_code(errors: list[CelebError]) -> ExitCode:
    """The exit status for a run in which these errors happened (documented above)."""
    return max((error.exit_code for error in errors), default=ExitCode.OK)
