"""Turn what an author hands over — files, folders, zips of a series — into (name, bytes) items.

A zip is hostile until proven otherwise: entries with absolute paths or ``..`` are refused (they
would name places outside the upload), as are links, nested archives, too many entries, and
entries whose declared or actual size, or compression ratio, betrays a zip bomb. Nothing is ever
extracted to disk; entries are read into memory with a hard cap.
"""

import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath

from imaging.dicom.errors import RejectedFile

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ZIP_ENTRIES = 5000
MAX_ZIP_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "DICOMDIR"}


@dataclass(frozen=True)
class InputFile:
    name: str
    data: bytes


#: How many leading bytes :func:`is_zip` needs: a DICOM file's 128-byte preamble and its 'DICM'.
SNIFF_BYTES = 132


def is_zip(name: str, data: bytes) -> bool:
    """Whether `data` (at least its first :data:`SNIFF_BYTES`) is a zip archive.

    A DICOM file is one whatever its preamble holds: PS3.10 7.1 leaves the 128 bytes to the
    application, and some put a zip's local header there (a file both a zip and DICOM). So the
    'DICM' prefix at offset 128 is looked for first.
    """
    if data[128:132] == b"DICM":
        return False
    return data[:4] == b"PK\x03\x04" or (name.lower().endswith(".zip") and data[:2] == b"PK")


def _check_entry_name(archive: str, entry: zipfile.ZipInfo) -> str:
    name = entry.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise RejectedFile(f"{archive}:{name}", "absolute path in zip entry")
    if ".." in path.parts:
        raise RejectedFile(f"{archive}:{name}", "'..' in zip entry path")
    mode = entry.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise RejectedFile(f"{archive}:{name}", "symbolic link in zip")
    return str(path)


def expand_zip(name: str, data: bytes) -> Iterator[InputFile | RejectedFile]:
    """Entries of a zip, or a rejection; a zip that is hostile as a whole is rejected whole."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError) as error:
        yield RejectedFile(name, f"not a readable zip ({error})")
        return
    entries = [entry for entry in archive.infolist() if not entry.is_dir()]
    if len(entries) > MAX_ZIP_ENTRIES:
        yield RejectedFile(name, f"zip has {len(entries)} entries, more than the limit of {MAX_ZIP_ENTRIES}")
        return
    declared_total = sum(entry.file_size for entry in entries)
    if declared_total > MAX_ZIP_TOTAL_BYTES:
        yield RejectedFile(name, f"zip would expand to {declared_total} bytes, over the limit (zip bomb?)")
        return
    for entry in entries:
        try:
            entry_name = _check_entry_name(name, entry)
        except RejectedFile as rejection:
            yield rejection
            continue
        label = f"{name}:{entry_name}"
        if PurePosixPath(entry_name).name in IGNORED_NAMES or PurePosixPath(entry_name).name.startswith("._"):
            continue
        if entry.file_size > MAX_FILE_BYTES:
            yield RejectedFile(
                label, f"entry of {entry.file_size} bytes is over the {MAX_FILE_BYTES}-byte limit"
            )
            continue
        if entry.compress_size and entry.file_size / entry.compress_size > MAX_COMPRESSION_RATIO:
            yield RejectedFile(label, "compression ratio over the limit (zip bomb?)")
            continue
        try:
            # Read at most one byte past the declared size: a lying header cannot make us read more.
            with archive.open(entry) as stream:
                content = stream.read(entry.file_size + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
            yield RejectedFile(label, f"cannot read zip entry ({error})")
            continue
        if len(content) > entry.file_size:
            yield RejectedFile(label, "entry is larger than its header declares (zip bomb?)")
            continue
        if is_zip(entry_name, content):
            yield RejectedFile(label, "nested zip archives are not accepted")
            continue
        yield InputFile(label, content)


def _oversized(name: str, size: int) -> RejectedFile:
    return RejectedFile(name, f"file of {size} bytes is over the {MAX_FILE_BYTES}-byte limit")


def expand_named_bytes(items: Iterable[InputFile | RejectedFile]) -> Iterator[InputFile | RejectedFile]:
    for item in items:
        if isinstance(item, RejectedFile):
            yield item
        elif len(item.data) > MAX_FILE_BYTES and not is_zip(item.name, item.data[:SNIFF_BYTES]):
            yield _oversized(item.name, len(item.data))
        elif is_zip(item.name, item.data):
            yield from expand_zip(item.name, item.data)
        else:
            yield item


def uploaded_files(uploads: Iterable) -> Iterator[InputFile | RejectedFile]:
    """Django uploads, each read only when the ingest asks for it (so one at a time, not all at
    once); a file over the size limit is refused by its declared size, without being read."""
    for upload in uploads:
        head = upload.read(SNIFF_BYTES)
        upload.seek(0)
        if upload.size > MAX_FILE_BYTES and not is_zip(upload.name, head):
            yield _oversized(upload.name, upload.size)
        else:
            yield InputFile(upload.name, upload.read())


def expand_paths(paths: Iterable[Path]) -> Iterator[InputFile | RejectedFile]:
    """Files, every file under a folder (sorted, hidden files skipped) and the entries of zips."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            yield from expand_paths(files)
        elif not path.is_file():
            yield RejectedFile(str(path), "no such file")
        elif path.stat().st_size > MAX_FILE_BYTES and path.suffix.lower() != ".zip":
            yield RejectedFile(str(path), f"file is over the {MAX_FILE_BYTES}-byte limit")
        elif path.name not in IGNORED_NAMES:
            yield from expand_named_bytes([InputFile(str(path), path.read_bytes())])
