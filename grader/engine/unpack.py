"""Safe unpacking of a student submission (a zip file or a folder) into a fresh directory.

This runs in the trusted grader process, before any sandbox exists, on bytes the student chose, so
nothing in the archive is believed. Defended, and why:

* Escaping ``dest`` (zip slip): absolute paths, drive letters, ``..`` and backslashes (a separator
  to some tools) are rejected, as are NUL bytes and unprintable characters (they truncate names or
  forge lines in reports and logs). Messages quote names with ``repr()`` for the same reason.
* Links and special files: a symlink could redirect a later write or read outside ``dest``; FIFOs
  and devices could hang the grader or reach hardware. Only regular files and folders pass, and
  writes go through directory fds opened ``O_NOFOLLOW`` into files created ``O_EXCL``.
* Exhaustion (zip bombs, huge trees): entries, per-file and total uncompressed size, compression
  ratio, path depth and name length are bounded. Sizes are checked from the headers up front AND
  enforced while streaming, because headers can lie.
* Encrypted, unknown-method, non-zip or damaged input gets a clear student-readable message. Every
  member is validated before the first byte is written; on any failure ``dest`` is left empty (or
  removed, if this call created it).
* Work out of proportion to the input: ``zipfile`` reads the whole central directory before the
  entry limit is checked (a 200 MB upload can list 2.3 million entries, ~1.2 GiB of ``ZipInfo``), and
  inflating 512 MiB of bzip2 takes many seconds. An entry count over the limit in the archive's
  end record is refused before the directory is read, and the whole unpack (planning and writing)
  runs in a child process under :data:`UNPACK_CAPS` (:mod:`grader.engine.confined`): memory, CPU
  time, the size of any file written. Past a cap the student is told which, and the worker is
  unharmed. ``check_archive`` (the API's check of an upload) runs the same way, except for uploads of
  at most 1 MiB held in memory: their directory lists at most ~22 000 entries (~15 MiB), so the API
  checks them in its own process and saves the fork (~8 ms of an API process's CPU, about three times
  what the rest of an upload costs it).
"""

from __future__ import annotations

import fnmatch
import io
import lzma
import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from grader.engine.confined import CapExceeded, Caps, ConfinedCrash, human_bytes, run_confined
from grader.errors import UnpackError

_T = TypeVar("_T")
_MIB = 1024 * 1024
_CHUNK = 64 * 1024
_RATIO_FLOOR_BYTES = _MIB  # small files (blank CSVs, zero-filled arrays) legitimately compress well
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional PKWARE encryption | strong encryption
_JUNK_DIRS, _JUNK_FILES = {"__MACOSX", "__pycache__"}, {".DS_Store", "Thumbs.db"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a swapped-in FIFO must not hang us
# What zipfile and its decompressors raise on damaged data (bz2 raises OSError). RuntimeError also covers
# zipfile's refusal of a header feature it lacks, such as compressed patched data (flag bit 5): it raises
# a subclass of RuntimeError for those (tests/unit/engine/test_unpack.py drives that path).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,
    ValueError,
    UnicodeDecodeError,
)
_REUPLOAD = "Please create the zip again with a standard tool and re-upload it."
_INLINE_CHECK_BYTES = _MIB  # check_archive reads in-memory uploads up to this size in the caller's process

# One submission's unpack (or the API's check of an upload), in a child process. Honest archives use a few
# MiB and a fraction of a second; 512 MiB of bzip2 (the most the limits let through) many seconds. The
# largest file written and the records sent back follow from the UnpackLimits (see _caps_for).
UNPACK_CAPS = Caps(memory_bytes=512 * _MIB, cpu_seconds=60, wall_seconds=120, file_bytes=0, result_bytes=0)


class UnpackLimits(BaseModel):
    """Bounds on what one submission may unpack to; the defaults suit code plus modest data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_entries: int = Field(default=5_000, gt=0, description="Most members (files and folders).")
    max_total_bytes: int = Field(default=512 * _MIB, gt=0, description="Most bytes of all files, uncompressed.")
    max_file_bytes: int = Field(default=256 * _MIB, gt=0, description="Most bytes of any one file, uncompressed.")
    max_compression_ratio: float = Field(
        default=200.0,
        gt=1,
        description="Highest uncompressed/compressed size ratio (unitless) for a member over "
        "1 MiB uncompressed; above it the member is treated as a zip bomb.",
    )
    max_path_depth: int = Field(default=32, gt=0, description="Most path components (folders plus file name).")
    max_name_bytes: int = Field(default=255, gt=0, description="Most UTF-8 bytes in one file or folder name.")


class UnpackedSubmission(BaseModel):
    """Where the submission landed and what it holds."""

    model_config = ConfigDict(frozen=True)

    root: Path = Field(description="Folder holding the submission's files: dest, or dest/<wrapper folder>.")
    files: list[str] = Field(description="Regular files as POSIX paths relative to root, sorted.")
    ignored: list[str] = Field(description="Junk skipped (paths from the archive top; folders end in '/').")
    notes: list[str] = Field(description="Student-readable remarks about how the submission was read.")


@dataclass(frozen=True)
class _Member:
    path: str  # normalised relative POSIX path; "" only for a top folder entry such as "./"
    is_dir: bool
    size: int  # declared uncompressed size; enforced again while copying
    origin: zipfile.ZipInfo | tuple[str, int, int]  # zip entry, or (absolute path, st_dev, st_ino)


def _q(name: str) -> str:
    """Quote a name for a message: repr() escapes control characters; long names are cut."""
    return repr(name[:160]) + ("…" if len(name) > 160 else "")


def _human(n: float) -> str:
    return f"{n:.0f} bytes" if n < _MIB else f"{n / _MIB:.1f} MiB"


def _listing(names: list[str], limit: int = 10) -> str:
    return ", ".join(_q(n) for n in names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_path(raw: str, is_dir: bool, limits: UnpackLimits) -> str:
    """Return the normalised relative path of one member, or raise naming what is wrong with it."""
    q = _q(raw)
    if "\x00" in raw:
        raise UnpackError(f"{q} has a NUL byte in its name; rename it and zip again.")
    if not all(ch.isprintable() for ch in raw):  # escape codes, RTL overrides, undecodable bytes
        raise UnpackError(f"{q} has characters in its name that are not printable; rename it and zip again.")
    if "\\" in raw:
        raise UnpackError(f"{q} contains a backslash; folders must be separated by '/'. {_REUPLOAD}")
    if raw.startswith("/") or _DRIVE.match(raw):
        what = "is an absolute path" if raw.startswith("/") else "starts with a drive letter"
        raise UnpackError(f"{q} {what}; every file in the submission must have a relative path.")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnpackError(f"{q} contains a '..' component that would place it outside the submission folder.")
    if not parts and not is_dir:
        raise UnpackError(f"{q} is a file without a name. {_REUPLOAD}")
    if len(parts) > limits.max_path_depth:
        raise UnpackError(f"{q} is nested {len(parts)} levels deep; the limit is {limits.max_path_depth} levels.")
    for size in (len(p.encode("utf-8")) for p in parts):
        if size > limits.max_name_bytes:
            raise UnpackError(f"{q} has a name of {size} bytes; the limit is {limits.max_name_bytes} bytes per name.")
    return "/".join(parts)


# Both walkers yield (raw name, mode, declared size, compressed size or None, origin) for _collect.
_Entry = tuple[str, int, int, int | None, zipfile.ZipInfo | tuple[str, int, int]]


def _zip_entries(zf: zipfile.ZipFile) -> Iterator[_Entry]:
    for info in zf.infolist():
        raw = info.orig_filename  # .filename is silently cut at a NUL byte; the original is not
        mode = info.external_attr >> 16  # the Unix mode, when the archiver recorded one
        if raw.endswith("/") and stat.S_IFMT(mode) in (0, stat.S_IFREG):  # zip marks folders by the slash
            mode = stat.S_IFDIR | stat.S_IMODE(mode)
        if info.flag_bits & _ENCRYPTED_FLAGS:
            raise UnpackError(f"{_q(raw)} is encrypted (password-protected); upload an archive without a password.")
        if info.compress_type not in _METHODS:
            raise UnpackError(f"{_q(raw)} uses an unsupported compression method. {_REUPLOAD}")
        yield raw, mode, info.file_size, info.compress_size, info


def _dir_entries(source: Path) -> Iterator[_Entry]:
    """Walk a folder without following links; a folder is entered only after _collect accepted it."""
    stack = [("", str(source))]
    while stack:
        rel, abs_dir = stack.pop()
        with os.scandir(abs_dir) as entries:
            for entry in entries:
                raw = f"{rel}/{entry.name}" if rel else entry.name
                st = entry.stat(follow_symlinks=False)
                yield (
                    raw,
                    st.st_mode,
                    0 if stat.S_ISDIR(st.st_mode) else st.st_size,
                    None,
                    (entry.path, st.st_dev, st.st_ino),
                )
                if stat.S_ISDIR(st.st_mode):
                    stack.append((raw, entry.path))


def _collect(entries: Iterator[_Entry], limits: UnpackLimits) -> list[_Member]:
    """Validate every entry (counted as it arrives, so a huge tree stops early) before any is written."""
    members: list[_Member] = []
    total = 0
    for raw, mode, size, packed, origin in entries:
        if len(members) >= limits.max_entries:
            raise UnpackError(f"The submission has too many entries; at most {limits.max_entries} files and folders.")
        q, is_dir = _q(raw), stat.S_ISDIR(mode)
        if stat.S_ISLNK(mode):
            raise UnpackError(f"{q} is a symbolic link; links are not accepted, include the file itself instead.")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: the archiver recorded no type
            raise UnpackError(f"{q} is a special file (FIFO, device or socket); only files and folders are accepted.")
        path = _check_path(raw, is_dir, limits)
        if size > limits.max_file_bytes:
            raise UnpackError(f"{q} is {_human(size)} uncompressed; the limit is {_human(limits.max_file_bytes)}.")
        total += size
        if total > limits.max_total_bytes:
            raise UnpackError(
                f"The submission is larger than {_human(limits.max_total_bytes)} in total "
                f"(uncompressed); the limit was passed at {q}."
            )
        if packed is not None and size > _RATIO_FLOOR_BYTES and size / max(packed, 1) > limits.max_compression_ratio:
            raise UnpackError(
                f"{q} has a suspicious compression ratio of {size / max(packed, 1):.0f}:1 (the "
                f"limit is {limits.max_compression_ratio:.0f}:1) and looks like a zip bomb."
            )
        members.append(_Member(path, is_dir, size, origin))
    return members


def _sort_out(members: list[_Member]) -> tuple[list[_Member], list[str]]:
    """Reject duplicates and file/folder clashes (one would clobber the other); split off OS clutter."""
    files: set[str] = set()
    dirs: set[str] = set()
    kept: list[_Member] = []
    ignored: set[str] = set()
    for m in members:
        parts = m.path.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + m.is_dir))
        if not m.is_dir and m.path in files:
            raise UnpackError(f"{_q(m.path)} appears more than once in the archive; keep only one copy.")
        files.update([] if m.is_dir else [m.path])
        junk_dir = next((i for i, p in enumerate(parts) if p in _JUNK_DIRS and (m.is_dir or i < len(parts) - 1)), None)
        if junk_dir is not None:  # list the folder once, not every file in it
            ignored.add("/".join(parts[: junk_dir + 1]) + "/")
        elif not m.is_dir and is_junk_file(m.path):
            ignored.add(m.path)
        else:
            kept.append(m)
    if clash := sorted(files & dirs):
        raise UnpackError(f"{_q(clash[0])} is both a file and a folder in the archive. {_REUPLOAD}")
    return kept, sorted(ignored)


def is_junk_file(path: str) -> bool:
    """A file the unpacker leaves out: in ``__MACOSX``/``__pycache__``, or ``.DS_Store``, ``Thumbs.db``, ``*.pyc``."""
    parts = path.split("/")
    return bool(_JUNK_DIRS & set(parts[:-1])) or parts[-1] in _JUNK_FILES or parts[-1].endswith(".pyc")


def choose_root(files: list[str], marker: str | None) -> tuple[str, list[str]]:
    """Return the folder ("" for the top) that holds the submission, and a note saying why."""
    if marker and (marker := marker.strip("/")) in files:
        return "", []
    if marker:
        places = sorted(f[: -len(marker) - 1] for f in files if f.endswith("/" + marker))
        if len(places) > 1:
            raise UnpackError(
                f"Found {_q(marker)} in several places: {_listing([p + '/' + marker for p in places])}; "
                "keep only one copy of your submission in the archive."
            )
        if places:
            return places[0], [
                f"found {_q(marker)} inside {_q(places[0] + '/')} and used that folder as the submission root"
            ]
        # Marker absent: fall through, so the other required files are still looked for sensibly.
    tops = {f.split("/", 1)[0] for f in files}
    if len(tops) == 1 and all("/" in f for f in files):
        top = tops.pop()
        return top, [f"unwrapped the single top-level folder {_q(top + '/')}"]
    return "", []


def _guarded(q: str, action: Callable[[], _T]) -> _T:
    """Run one read from the archive, turning damaged-data errors into a student-readable message."""
    try:
        return action()
    except _ZIP_ERRORS as exc:
        raise UnpackError(
            f"The zip archive is damaged: {q} cannot be read (bad checksum or truncated data). {_REUPLOAD}",
            staff_detail=f"{type(exc).__name__}: {exc}",
        ) from exc


def _copy_limited(read: Callable[[int], bytes], write: Callable[[bytes], object], declared: int, q: str) -> None:
    """Copy exactly ``declared`` bytes. Declared sizes already passed every limit, so refusing to
    write past them enforces the per-file and total limits even when a header lies."""
    written = 0
    while chunk := read(min(_CHUNK, declared - written + 1)):  # +1: notice any byte beyond the declared size
        written += len(chunk)
        if written > declared:
            raise UnpackError(f"{q} holds more data than its declared size of {declared} bytes; rejected as unsafe.")
        write(chunk)
    if written < declared:
        raise UnpackError(f"The submission is damaged: {q} is shorter than its declared size. {_REUPLOAD}")


def _open_dirs(root_fd: int, parts: list[str]) -> int:
    """Open (creating as needed) the folder root/parts..., never following a link; return its fd."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            with suppress(FileExistsError):  # made for an earlier member; O_NOFOLLOW below refuses a link
                os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
            os.fchmod(fd, 0o755)  # mkdir's mode is filtered by the umask
    except BaseException:
        os.close(fd)
        raise
    return fd


def _extract(root_fd: int, m: _Member, zf: zipfile.ZipFile | None) -> None:
    q, (*dirs, name) = _q(m.path), m.path.split("/")
    if m.is_dir:
        os.close(_open_dirs(root_fd, [*dirs, name] if m.path else []))
        return
    with ExitStack() as stack:
        if isinstance(m.origin, zipfile.ZipInfo):
            assert zf is not None
            read = _member_reader(stack, zf, m.origin, q)
        else:
            changed = UnpackError(f"{q} changed while the submission was being copied; upload it again.")
            try:  # ELOOP here means the file was swapped for a link since it was checked
                src = stack.enter_context(os.fdopen(os.open(m.origin[0], _READ_FLAGS), "rb"))
            except OSError as exc:
                raise changed from exc
            st = os.fstat(src.fileno())  # the file that was checked, not one swapped in since
            if (st.st_dev, st.st_ino) != m.origin[1:] or not stat.S_ISREG(st.st_mode):
                raise changed
            read = src.read
        parent = _open_dirs(root_fd, dirs)
        try:
            fd = os.open(name, _NEW_FILE_FLAGS, 0o644, dir_fd=parent)
        finally:
            os.close(parent)
        out = stack.enter_context(os.fdopen(fd, "wb"))
        os.fchmod(fd, 0o644)  # the mode given to open() is filtered by the umask
        _copy_limited(read, out.write, m.size, q)


def _member_reader(stack: ExitStack, zf: zipfile.ZipFile, info: zipfile.ZipInfo, q: str) -> Callable[[int], bytes]:
    """``read(n)`` of one zip member, open until ``stack`` closes; damaged data becomes an UnpackError."""
    src = stack.enter_context(_guarded(q, lambda: zf.open(info)))
    return lambda n: _guarded(q, lambda: src.read(n))


def _plan(members: list[_Member], marker: str | None) -> tuple[list[_Member], list[str], list[str], str, list[str]]:
    """The members to write, the junk ignored, every file's path, the submission root and its notes;
    raises for duplicates, clashes and an ambiguous root (everything decided before a byte is written)."""
    kept, ignored = _sort_out(members)
    all_files = sorted(m.path for m in kept if not m.is_dir)
    prefix, notes = choose_root(all_files, marker)
    return kept, ignored, all_files, prefix, notes


def _finish(
    members: list[_Member], dest: Path, marker: str | None, zf: zipfile.ZipFile | None = None
) -> UnpackedSubmission:
    kept, ignored, all_files, prefix, notes = _plan(members, marker)  # may reject, so before touching dest
    if created := not os.path.lexists(dest):
        dest.mkdir(parents=True, mode=0o755)
    elif dest.is_symlink() or not dest.is_dir() or any(dest.iterdir()):  # a caller bug, not the student's
        raise ValueError(f"unpack destination {dest} must be an empty folder or not exist")
    root_fd = os.open(dest, _DIR_FLAGS)
    try:
        if created:
            os.fchmod(root_fd, 0o755)  # mkdir's mode is filtered by the umask
        for m in kept:
            _extract(root_fd, m, zf)
    except BaseException:
        _clear(dest, created)
        raise
    finally:
        os.close(root_fd)
    inside = [f for f in all_files if not prefix or f.startswith(prefix + "/")]
    if outside := sorted(set(all_files) - set(inside)):
        notes.append(
            f"{len(outside)} file(s) outside {_q(prefix + '/')} are not part of the graded submission: "
            f"{_listing(outside)}"
        )
    if ignored:
        notes.append(f"ignored {len(ignored)} junk item(s): {_listing(ignored)}")
    if not inside:
        notes.append("the submission contains no files")
    files = [f[len(prefix) + 1 :] if prefix else f for f in inside]
    return UnpackedSubmission(root=dest / prefix if prefix else dest, files=files, ignored=ignored, notes=notes)


def _clear(dest: Path, created: bool) -> None:
    """Remove what an unpack wrote under ``dest`` (and ``dest`` itself if the unpack created it)."""
    if not os.path.lexists(dest):
        return
    if dest.is_symlink() or not dest.is_dir():  # not ours to touch
        return
    for child in dest.iterdir():  # real folders and files (rmtree never follows a link)
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    if created:
        dest.rmdir()


def unpack_submission(
    source: Path, dest: Path, limits: UnpackLimits, *, root_marker: str | None = None, caps: Caps | None = None
) -> UnpackedSubmission:
    """Validate every member of ``source`` (a zip file or a folder), then copy it into ``dest``.

    ``dest`` must be an empty folder or not exist (ValueError otherwise). ``root_marker`` (e.g.
    ``"src/run.py"``) picks the submission root when the student zipped a wrapper folder.
    Raises UnpackError, leaving ``dest`` empty or absent, if anything is unacceptable, including
    an archive whose unpacking passes ``caps`` (default: :data:`UNPACK_CAPS`; see :func:`_caps_for`).
    """
    source, dest = Path(source), Path(dest)
    created = not os.path.lexists(dest)
    try:
        outcome = run_confined(_unpack_here, source, dest, limits, root_marker, caps=_caps_for(limits, caps))
    except (CapExceeded, ConfinedCrash) as exc:
        _clear(dest, created)  # the child was stopped before it could clean up
        if isinstance(exc, ConfinedCrash):
            raise
        raise UnpackError(_over_cap(source.name, exc, "unpacked"), staff_detail=exc.detail) from None
    return _accept(dest, _answer(outcome.records))


def _unpack_here(source: Path, dest: Path, limits: UnpackLimits, marker: str | None) -> Iterator[list[Any]]:
    """The child's work: the unpack itself; yields its result (or its refusal) as one record."""
    try:
        if stat.S_ISDIR(os.lstat(source).st_mode):
            unpacked = _finish(_collect(_dir_entries(source), limits), dest, marker)
        else:
            with _open_zip(source, limits=limits) as zf:  # one open file: what is checked is what is extracted
                unpacked = _finish(_collect(_zip_entries(zf), limits), dest, marker, zf)
    except (UnpackError, ValueError) as exc:
        yield _refusal(exc)
        return
    prefix = unpacked.root.relative_to(dest).as_posix()
    yield ["ok", "" if prefix == "." else prefix, unpacked.files, unpacked.ignored, unpacked.notes]


def _refusal(exc: UnpackError | ValueError) -> list[Any]:
    if isinstance(exc, UnpackError):
        return ["refused", exc.student_message, exc.staff_detail]
    return ["caller", str(exc)]  # a ValueError: the caller's mistake (dest not empty), or zipfile's own


def _answer(records: list[Any]) -> list[Any]:
    """The child's one record; its refusal raised here as the error it was there."""
    if len(records) != 1 or not isinstance(records[0], list) or not records[0]:
        raise ConfinedCrash(f"unexpected records from the unpack: {records!r:.500}", records)
    record: list[Any] = records[0]
    if record[0] == "refused":
        raise UnpackError(str(record[1]), staff_detail=str(record[2]))
    if record[0] == "caller":
        raise ValueError(str(record[1]))
    return record


def _accept(dest: Path, record: list[Any]) -> UnpackedSubmission:
    """The child's result, checked: the root it names must be a real folder under ``dest``."""
    _, prefix, files, ignored, notes = record
    parts = prefix.split("/") if isinstance(prefix, str) and prefix else []
    if not isinstance(prefix, str) or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        raise ConfinedCrash(f"the unpack named an impossible root {prefix!r:.200}", [record])
    root = dest
    for part in parts:
        root = root / part
        if not stat.S_ISDIR(os.lstat(root).st_mode):  # lstat: a link is not a folder
            raise ConfinedCrash(f"the unpack's root {prefix!r:.200} is not a folder", [record])
    return UnpackedSubmission(root=root, files=files, ignored=ignored, notes=notes)


def _caps_for(limits: UnpackLimits, caps: Caps | None) -> Caps:
    """``caps`` (default UNPACK_CAPS) with the output caps that ``limits`` imply where they are 0: no
    file past the per-file limit (the copy itself stops there), and records with every path twice."""
    caps = caps or UNPACK_CAPS
    path_bytes = limits.max_path_depth * (limits.max_name_bytes + 1)
    return replace(
        caps,
        file_bytes=caps.file_bytes or limits.max_file_bytes + _CHUNK,
        result_bytes=caps.result_bytes or 2 * limits.max_entries * (path_bytes + 8) + _MIB,
    )


def _over_cap(name: str, exc: CapExceeded, done: str) -> str:
    """The student's message when reading the archive ``name`` passed a cap."""
    if exc.cap == "memory":
        what = (
            f"needed more than the {human_bytes(exc.caps.memory_bytes)} of memory the grader allows for "
            "reading an archive (an enormous number of entries?)"
        )
    elif exc.cap == "time":
        what = (
            f"took longer than the grader allows for unpacking an archive ({exc.caps.describe('time')}; "
            "hundreds of MiB in slow compression such as bzip2 or LZMA?)"
        )
    else:
        what = f"would write more than the grader allows ({exc.caps.describe('output')})"
    return (
        f"The submission {_q(name)} could not be {done}: it {what}. Zip only the files the assignment asks "
        f"for, with a standard tool and its default compression, and re-upload it."
    )


def check_archive(
    source: Path | bytes | BinaryIO,
    limits: UnpackLimits,
    *,
    root_marker: str | None = None,
    name: str = "",
    caps: Caps | None = None,
) -> None:
    """Apply every check of ``unpack_submission`` to the zip ``source`` (a file, its bytes, or an open file,
    left open) without writing anything.

    Each member is decompressed and thrown away, so damaged data and lying headers are found as
    they would be when unpacking. Raises UnpackError with the message the unpack would give, naming
    the archive ``name`` (the student's file name) rather than ``source``'s. Runs in a child under
    ``caps`` like the unpack, except bytes of at most 1 MiB (module docstring).
    """
    if isinstance(source, bytes) and len(source) <= _INLINE_CHECK_BYTES:
        for _ in _check_here(source, limits, root_marker, name, raising=True):
            pass
        return
    shown = name or (source.name if isinstance(source, Path) else "submission.zip")
    fds = _fds_of(source)
    offset = os.lseek(fds[0], 0, os.SEEK_CUR) if fds else None
    try:
        outcome = run_confined(
            _check_here, source, limits, root_marker, name, caps=_caps_for(limits, caps), keep_fds=fds
        )
    except CapExceeded as exc:
        raise UnpackError(_over_cap(shown, exc, "checked"), staff_detail=exc.detail) from None
    finally:
        if offset is not None:  # the child read through the same open file: put its position back
            os.lseek(fds[0], offset, os.SEEK_SET)
    _answer(outcome.records)


def _check_here(
    source: Path | bytes | BinaryIO, limits: UnpackLimits, marker: str | None, name: str, *, raising: bool = False
) -> Iterator[list[Any]]:
    """check_archive's work; in a child, a refusal is yielded as a record (``raising``: raised as it is)."""
    try:
        with _open_zip(source, name, limits=limits) as zf:
            kept = _plan(_collect(_zip_entries(zf), limits), marker)[0]
            for m in kept:
                if not m.is_dir and isinstance(m.origin, zipfile.ZipInfo):
                    with ExitStack() as stack:
                        _copy_limited(_member_reader(stack, zf, m.origin, _q(m.path)), _discard, m.size, _q(m.path))
    except (UnpackError, ValueError) as exc:
        if raising:
            raise
        yield _refusal(exc)
        return
    yield ["ok"]


def _fds_of(source: Path | bytes | BinaryIO) -> tuple[int, ...]:
    """The descriptor an open upload reads from (the child needs it); none for a path or bytes."""
    if isinstance(source, (Path, bytes)):
        return ()
    inner = getattr(source, "_file", source)  # a SpooledTemporaryFile's file, without forcing it to disk
    try:
        return (inner.fileno(),)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return ()  # in memory: the child has its own copy


def _discard(chunk: bytes) -> None:
    """check_archive's sink: the bytes were read, and checked by zipfile's CRC, for nothing else."""


@contextmanager
def _open_zip(source: Path | bytes | BinaryIO, name: str = "", *, limits: UnpackLimits) -> Iterator[zipfile.ZipFile]:
    """The zip ``source`` (a file, an upload's bytes or its open file; called ``name`` in messages), or an
    UnpackError saying what it is instead (or that its end record lists more entries than ``limits``)."""
    q = _q(name or (source.name if isinstance(source, Path) else "submission.zip"))
    if isinstance(source, Path) and not stat.S_ISREG(os.lstat(source).st_mode):
        raise UnpackError(f"The submission {q} is neither a zip archive nor a folder.")
    with _binary(source) as fh:
        if not zipfile.is_zipfile(fh):
            fh.seek(0)
            if fh.read(4) == b"PK\x03\x04":  # starts like a zip but has no directory at the end: cut short
                raise UnpackError(
                    f"The uploaded file {q} is a damaged or incomplete zip archive "
                    f"(was the upload interrupted?). {_REUPLOAD}"
                )
            raise UnpackError(
                f"The uploaded file {q} is not a zip archive. Please upload a .zip "
                "file (formats such as .tar.gz, .rar or .7z are not accepted)."
            )
        _check_entry_count(fh, limits)
        fh.seek(0)
        with _guarded(q, lambda: zipfile.ZipFile(fh)) as zf:
            yield zf


def _check_entry_count(fh: BinaryIO, limits: UnpackLimits) -> None:
    """Refuse an archive whose end record lists more entries than the limit before zipfile reads them all
    (a ZipInfo each). The count can lie; the unpack's memory cap covers a directory that does."""
    end_record = getattr(zipfile, "_EndRecData", None)  # zipfile's own reader of that record (stable since 2.x)
    try:
        found = end_record(fh) if end_record else None
        entries = int(found[zipfile._ECD_ENTRIES_TOTAL]) if found else 0  # type: ignore[attr-defined]
    except (*_ZIP_ERRORS, AttributeError, IndexError, TypeError):
        return  # zipfile itself reports the damage
    if entries > limits.max_entries:
        raise UnpackError(f"The submission has too many entries; at most {limits.max_entries} files and folders.")


def _binary(source: Path | bytes | BinaryIO) -> AbstractContextManager[BinaryIO]:
    if isinstance(source, Path):
        return open(source, "rb")
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return nullcontext(source)  # the caller's file: it stays open (ZipFile does not close a file it was given)


def find_missing(unpacked: UnpackedSubmission, required: list[str]) -> list[str]:
    """The required names (sorted) that no file matches; glob patterns match relative paths."""
    have = set(unpacked.files)
    globbed = [n for n in required if any(ch in n for ch in "*?[")]
    missing = {n for n in globbed if not any(fnmatch.fnmatchcase(f, n) for f in unpacked.files)}
    missing |= {n for n in required if n not in globbed and n.removeprefix("./") not in have}
    return sorted(missing)
