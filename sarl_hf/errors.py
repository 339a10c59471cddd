"""The named errors of the library. Each is a ``ValueError`` whose message says what is
wrong in the library's terms; the command line adds how to fix it with its flags.
"""

from __future__ import annotations

__all__ = ["CorpusMismatch", "ResumeRequired", "IncompleteCorpus", "ArgumentRequired",
           "ForeignFiles", "CorruptFile", "FolderInUse", "HubError"]


class CorpusMismatch(ValueError):
    """Two things that must share one corpus do not: a folder holds a corpus made with
    other parameters, or results files were measured on different corpora."""


class ResumeRequired(ValueError):
    """An output folder already holds (part of) this very corpus: continue it on purpose."""


class IncompleteCorpus(ValueError):
    """A corpus folder is not finished (no manifest yet): finish its generation first."""


class ArgumentRequired(ValueError):
    """An optional argument is needed in this case; ``argument`` names it."""

    def __init__(self, message: str, argument: str):
        super().__init__(message)
        self.argument = argument


class ForeignFiles(CorpusMismatch):
    """A folder holds files this corpus's plan did not write (shards of another plan, files
    dropped in); ``paths`` lists them."""

    def __init__(self, message: str, paths: list):
        super().__init__(message)
        self.paths = list(paths)


class CorruptFile(ValueError):
    """A file does not match what the stage that wrote it recorded (its checksum, or it is
    not readable at all); ``path`` names it."""

    def __init__(self, message: str, path):
        super().__init__(message)
        self.path = path


class FolderInUse(RuntimeError):
    """Another process holds the lock of an output folder."""


class HubError(RuntimeError):
    """The Hugging Face Hub refused a request or could not be reached; the message says
    which request and what came back, on one line."""
