"""Errors raised by the imaging core when an uploaded file is refused."""

from __future__ import annotations


class RejectedFile(Exception):
    """An uploaded file that cannot be accepted, with a reason a person can act on.

    Parameters
    ----------
    name : str
        The name the file was uploaded under (shown back to the uploader).
    reason : str
        Why it was refused, in plain words (e.g. ``"not a DICOM file"``).

    Examples
    --------
    >>> err = RejectedFile("scan.dcm", "the file is empty")
    >>> str(err)
    'scan.dcm: the file is empty'
    """

    #: The SHA-256 (hex) of the file's bytes as uploaded, where they were read: what the stored
    #: upload report names the file by, since its name may not be stored (it can name the patient).
    sha256: str = ""

    def __init__(self, name: str, reason: str) -> None:
        # Both values go to ``args`` so that the exception pickles and copies cleanly.
        super().__init__(name, reason)
        self.name = name
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"
