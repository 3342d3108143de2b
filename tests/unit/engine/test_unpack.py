"""Tests for grader.engine.unpack: every archive is built here, in tmp_path, with zipfile."""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.engine import unpack
from grader.engine.confined import Confined, ConfinedCrash
from grader.engine.unpack import (
    UNPACK_CAPS,
    UnpackLimits,
    _copy_limited,
    check_archive,
    find_missing,
    unpack_submission,
)
from grader.errors import UnpackError

LIMITS = UnpackLimits()


def build_zip(
    path: Path, members: Sequence[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def patch_header(path: Path, field: str, value: int, *, or_bits: bool = False) -> None:
    """Overwrite one field in the (first) local and central headers; offsets are from the zip spec."""
    offsets = {"flags": (6, 8, 2), "size": (22, 24, 4)}[field]
    data = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", offsets[0]), (b"PK\x01\x02", offsets[1])):
        at, width = data.find(sig) + off, offsets[2]
        old = int.from_bytes(data[at : at + width], "little")
        data[at : at + width] = ((old | value) if or_bits else value).to_bytes(width, "little")
    path.write_bytes(bytes(data))


def rejected(
    tmp_path: Path, source: Path, phrase: str, limits: UnpackLimits = LIMITS, dest: Path | None = None, **kw: str
) -> str:
    """Unpack must fail with ``phrase`` in the message and leave nothing in dest; the API's check of
    a zip file (``check_archive``, which writes nothing) must refuse it with the very same message."""
    dest = dest or tmp_path / "out"
    with pytest.raises(UnpackError) as info:
        unpack_submission(source, dest, limits, **kw)
    message = info.value.student_message
    assert phrase in message, message
    assert not dest.exists() or list(dest.iterdir()) == []
    if not source.is_dir():
        before = sorted(tmp_path.rglob("*"))
        with pytest.raises(UnpackError) as checked:
            check_archive(source, limits, **kw)
        assert checked.value.student_message == message
        if stat.S_ISREG(os.lstat(source).st_mode):  # the API checks a small upload from its bytes: the same
            with pytest.raises(UnpackError) as in_memory:
                check_archive(
                    source.read_bytes(), limits, name=kw.get("name") or source.name, root_marker=kw.get("root_marker")
                )
            assert in_memory.value.student_message == message
            with source.open("rb") as spooled, pytest.raises(UnpackError) as from_file:  # a large upload: its open file
                check_archive(spooled, limits, name=kw.get("name") or source.name, root_marker=kw.get("root_marker"))
            assert from_file.value.student_message == message
        assert sorted(tmp_path.rglob("*")) == before
    return message


def test_check_archive_passes_a_good_zip_and_writes_nothing(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("sub/src/run.py", b"print(1)\n"), ("sub/data/x.csv", b"a,b\n" * 5000)])
    before = sorted(tmp_path.rglob("*"))
    check_archive(src, LIMITS, root_marker="src/run.py")
    assert sorted(tmp_path.rglob("*")) == before


def test_check_archive_reads_an_open_file_and_leaves_it_open(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("src/run.py", b"print(1)\n")])
    with src.open("rb") as upload:
        check_archive(upload, LIMITS, root_marker="src/run.py")
        assert not upload.closed  # the API stores it next
        upload.seek(0)
        assert upload.read() == src.read_bytes()


def test_check_archive_names_the_students_file(tmp_path: Path) -> None:
    blob = tmp_path / ("ab" * 32)  # stored under its hash, uploaded as "my work.zip"
    blob.write_bytes(b"not a zip at all")
    with pytest.raises(UnpackError, match="The uploaded file 'my work.zip' is not a zip archive"):
        check_archive(blob, LIMITS, name="my work.zip")


def test_flat_archive_unpacks_with_safe_modes(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("run.py", b"print(1)\n"), ("data/x.csv", b"a,b\n")])
    out = unpack_submission(src, tmp_path / "out", LIMITS)
    assert out.root == tmp_path / "out"
    assert out.files == ["data/x.csv", "run.py"]
    assert out.ignored == [] and out.notes == []
    assert (out.root / "run.py").read_bytes() == b"print(1)\n"
    assert stat.S_IMODE((out.root / "run.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((out.root / "data").stat().st_mode) == 0o755


def test_single_wrapper_folder_is_unwrapped_and_junk_ignored(tmp_path: Path) -> None:
    src = build_zip(
        tmp_path / "s.zip",
        [
            ("a5/", b""),
            ("a5/run.py", b"x"),
            ("a5/data/x.csv", b"y"),
            ("__MACOSX/a5/._run.py", b"junk"),
            ("a5/.DS_Store", b"junk"),
            ("a5/__pycache__/m.cpython-311.pyc", b"junk"),
            ("a5/m.pyc", b"junk"),
            ("Thumbs.db", b"junk"),
        ],
    )
    out = unpack_submission(src, tmp_path / "out", LIMITS)
    assert out.root == tmp_path / "out" / "a5"
    assert out.files == ["data/x.csv", "run.py"]
    assert out.ignored == ["Thumbs.db", "__MACOSX/", "a5/.DS_Store", "a5/__pycache__/", "a5/m.pyc"]
    assert "unwrapped the single top-level folder 'a5/'" in out.notes
    assert not (tmp_path / "out" / "__MACOSX").exists() and not (out.root / "m.pyc").exists()


def test_marker_under_nested_wrapper_picks_root(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("sub/a5/src/run.py", b"x"), ("sub/a5/README.md", b"y"), ("notes.txt", b"z")])
    out = unpack_submission(src, tmp_path / "out", LIMITS, root_marker="src/run.py")
    assert out.root == tmp_path / "out" / "sub" / "a5"
    assert out.files == ["README.md", "src/run.py"]
    assert "found 'src/run.py' inside 'sub/a5/' and used that folder as the submission root" in out.notes
    assert any("'notes.txt'" in n and "not part of the graded submission" in n for n in out.notes)


def test_marker_at_top_keeps_top_even_with_one_folder(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("src/run.py", b"x"), ("src/util.py", b"y")])
    out = unpack_submission(src, tmp_path / "out", LIMITS, root_marker="src/run.py")
    assert out.root == tmp_path / "out" and out.files == ["src/run.py", "src/util.py"]


def test_marker_in_several_places_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("a/src/run.py", b"x"), ("b/src/run.py", b"y")])
    msg = rejected(tmp_path, src, "in several places", root_marker="src/run.py")
    assert "'a/src/run.py'" in msg and "'b/src/run.py'" in msg


def test_find_missing_with_globs(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("run.py", b"x"), ("data/a.csv", b"y")])
    out = unpack_submission(src, tmp_path / "out", LIMITS)
    required = ["run.py", "report.pdf", "*.ipynb", "data/*.csv", "./run.py"]
    assert find_missing(out, required) == ["*.ipynb", "report.pdf"]


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("../x", "contains a '..' component"),
        ("a/../../x", "contains a '..' component"),
        ("/etc/x", "is an absolute path"),
        ("C:/x", "starts with a drive letter"),
        ("a\\..\\x", "contains a backslash"),
    ],
)
def test_escaping_paths_are_rejected(tmp_path: Path, name: str, phrase: str) -> None:
    src = build_zip(tmp_path / "s.zip", [("ok.py", b"x"), (name, b"evil")])
    assert repr(name) in rejected(tmp_path, src, phrase)


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def test_symlink_member_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [(_info("link", stat.S_IFLNK | 0o777), b"/etc/passwd")])
    rejected(tmp_path, src, "'link' is a symbolic link")


def test_fifo_member_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [(_info("pipe", stat.S_IFIFO | 0o644), b"")])
    rejected(tmp_path, src, "'pipe' is a special file")


def test_encrypted_member_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("secret.py", b"x" * 100)])
    patch_header(src, "flags", 0x1, or_bits=True)
    rejected(tmp_path, src, "'secret.py' is encrypted")


@pytest.mark.parametrize(
    ("members", "limits", "phrase"),
    [
        ([(f"f{i}.py", b"x") for i in range(4)], UnpackLimits(max_entries=3), "at most 3 files and folders"),
        ([("a", b"x" * 600), ("b", b"x" * 600)], UnpackLimits(max_total_bytes=1000), "in total"),
        ([("big.bin", b"x" * 600)], UnpackLimits(max_file_bytes=500), "'big.bin' is 600 bytes uncompressed"),
        ([("a/b/c/d.py", b"x")], UnpackLimits(max_path_depth=3), "'a/b/c/d.py' is nested 4 levels deep"),
        ([("n" * 300 + ".py", b"x")], LIMITS, "name of 303 bytes; the limit is 255 bytes"),
    ],
)
def test_limits_are_enforced(
    tmp_path: Path, members: list[tuple[str, bytes]], limits: UnpackLimits, phrase: str
) -> None:
    rejected(tmp_path, build_zip(tmp_path / "s.zip", members), phrase, limits)


def test_ratio_bomb_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("zeros.npy", bytes(4 * 1024 * 1024))])
    rejected(tmp_path, src, "'zeros.npy' has a suspicious compression ratio")


def test_well_compressed_small_file_is_fine(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("blank.csv", bytes(512 * 1024))])
    assert unpack_submission(src, tmp_path / "out", LIMITS).files == ["blank.csv"]


def test_tar_renamed_zip_is_not_a_zip(tmp_path: Path) -> None:
    src = tmp_path / "s.zip"
    with tarfile.open(src, "w") as tar:
        data = b"print(1)\n"
        info = tarfile.TarInfo("run.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    rejected(tmp_path, src, "'s.zip' is not a zip archive")


def test_text_renamed_zip_is_not_a_zip(tmp_path: Path) -> None:
    src = tmp_path / "s.zip"
    src.write_text("def main(): pass\n")
    rejected(tmp_path, src, "is not a zip archive")


def test_member_zipfile_cannot_read_is_damaged_not_a_crash(tmp_path: Path) -> None:
    # Flag bit 5 (compressed patched data): zipfile raises NotImplementedError when it opens the member.
    src = build_zip(tmp_path / "s.zip", [("patched.py", b"x" * 100)])
    patch_header(src, "flags", 0x20, or_bits=True)
    rejected(tmp_path, src, "The zip archive is damaged: 'patched.py' cannot be read")


def test_truncated_zip_is_damaged(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("run.py", os.urandom(5000))])
    src.write_bytes(src.read_bytes()[:3000])
    rejected(tmp_path, src, "damaged or incomplete zip archive")


def test_bad_crc_is_damaged_and_partial_output_removed(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("good.py", b"fine"), ("bad.py", b"A" * 1000)], zipfile.ZIP_STORED)
    data = src.read_bytes()
    src.write_bytes(data.replace(b"A" * 1000, b"A" * 999 + b"B"))
    dest = tmp_path / "existing"
    dest.mkdir()
    rejected(tmp_path, src, "The zip archive is damaged: 'bad.py' cannot be read", dest=dest)
    assert dest.is_dir()  # a folder we were given stays, emptied


def test_lying_header_size_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("data.bin", b"A" * 100_000)])
    patch_header(src, "size", 1000)  # claims 1000 bytes; the stream holds 100 000
    rejected(tmp_path, src, "'data.bin' cannot be read")


def test_stream_longer_than_declared_stops_writing() -> None:
    out = io.BytesIO()
    with pytest.raises(UnpackError, match="holds more data than its declared size of 10 bytes"):
        _copy_limited(io.BytesIO(b"x" * 1000).read, out.write, 10, "'f'")
    assert len(out.getvalue()) <= 10


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        src = build_zip(tmp_path / "s.zip", [("run.py", b"a"), ("run.py", b"b")])
    rejected(tmp_path, src, "'run.py' appears more than once")


def test_duplicate_after_normalisation_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("a/b.py", b"a"), ("a/./b.py", b"b")])
    rejected(tmp_path, src, "'a/b.py' appears more than once")


def test_case_variants_are_fine(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("Run.py", b"a"), ("run.py", b"b")])
    assert unpack_submission(src, tmp_path / "out", LIMITS).files == ["Run.py", "run.py"]


def test_file_and_folder_with_same_path_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("a", b"file"), ("a/b.py", b"x")])
    rejected(tmp_path, src, "'a' is both a file and a folder")


def test_control_character_in_name_is_rejected_and_escaped(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("evil\x1b[2J.py", b"x")])
    msg = rejected(tmp_path, src, "not printable")
    assert "\x1b" not in msg and "\\x1b" in msg


def test_nul_byte_in_name_is_rejected(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("run@.py", b"x")])
    src.write_bytes(src.read_bytes().replace(b"run@.py", b"run\x00.py"))  # zipfile cannot write a NUL
    rejected(tmp_path, src, "has a NUL byte in its name")


def test_cp437_name_without_utf8_flag_is_accepted(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("caf@.py", b"x")])
    src.write_bytes(src.read_bytes().replace(b"caf@.py", b"caf\x82.py"))  # 0x82 is 'é' in cp437
    assert unpack_submission(src, tmp_path / "out", LIMITS).files == ["café.py"]


def test_directory_source_is_copied(tmp_path: Path) -> None:
    src = tmp_path / "sub" / "a5"
    (src / "data").mkdir(parents=True)
    (src / "run.py").write_text("x")
    (src / "data" / "x.csv").write_text("y")
    out = unpack_submission(tmp_path / "sub", tmp_path / "out", LIMITS)
    assert out.root == tmp_path / "out" / "a5" and out.files == ["data/x.csv", "run.py"]
    assert (out.root / "data" / "x.csv").read_text() == "y"


def test_directory_source_with_symlink_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "sub"
    (src / "a").mkdir(parents=True)
    (src / "a" / "run.py").write_text("x")
    (src / "a" / "passwd").symlink_to("/etc/passwd")
    rejected(tmp_path, src, "'a/passwd' is a symbolic link")


def test_directory_source_with_fifo_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "sub"
    src.mkdir()
    os.mkfifo(src / "pipe")
    rejected(tmp_path, src, "'pipe' is a special file")


def test_non_empty_dest_is_a_caller_error(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("run.py", b"x")])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("mine")
    with pytest.raises(ValueError, match="must be an empty folder"):
        unpack_submission(src, tmp_path / "out", LIMITS)
    assert (tmp_path / "out" / "keep").read_text() == "mine"


# --- Caps: the unpack runs in a child under memory, time and output caps (grader.engine.confined) ---

_MIB = 1024 * 1024


def many_entries_zip(path: Path, n: int, *, claimed: int | None = None) -> Path:
    """A zip of ``n`` empty stored files, written directly (zipfile takes seconds for 200 000); its end
    record claims ``claimed`` entries (default: the truth, or 0xFFFF past what the field holds)."""
    local, central, offset = [], [], 0
    for i in range(n):
        name = f"{i:x}".encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(
            struct.pack(
                "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0o644 << 16, offset
            )
            + name
        )
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    count = min(n, 0xFFFF) if claimed is None else claimed
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0)
    path.write_bytes(b"".join(local) + directory + end)
    return path


def test_an_entry_count_over_the_limit_is_refused_before_the_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = many_entries_zip(tmp_path / "s.zip", 6_000)
    real = zipfile.ZipFile

    def not_read(*args: object, **kwargs: object) -> zipfile.ZipFile:
        raise AssertionError("the directory was read")

    monkeypatch.setattr(zipfile, "ZipFile", not_read)
    rejected(tmp_path, src, "too many entries; at most 5000 files and folders")
    monkeypatch.setattr(zipfile, "ZipFile", real)


def test_a_directory_that_lies_about_its_size_meets_the_memory_cap(tmp_path: Path) -> None:
    """200 000 entries behind an end record that claims one: ~130 MiB of ZipInfo before the entry limit
    is reached. Under a 32 MiB cap the student is told, and the worker never holds them."""
    src = many_entries_zip(tmp_path / "s.zip", 200_000, claimed=1)
    caps = replace(UNPACK_CAPS, memory_bytes=32 * _MIB)
    dest = tmp_path / "out"
    with pytest.raises(UnpackError) as info:
        unpack_submission(src, dest, LIMITS, caps=caps)
    message = info.value.student_message
    assert message.startswith("The submission 's.zip' could not be unpacked: it needed more than the 32 MiB of memory")
    assert "re-upload" in message and not dest.exists()
    with pytest.raises(UnpackError, match="'s.zip' could not be checked: it needed more than the 32 MiB"):
        check_archive(src.read_bytes(), LIMITS, caps=caps, name="s.zip")  # over 1 MiB: checked in a child too


@pytest.mark.parametrize("dest_exists", [False, True])
def test_past_the_time_cap_the_unpack_stops_and_what_it_wrote_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dest_exists: bool
) -> None:
    src = build_zip(tmp_path / "s.zip", [("a.py", b"a"), ("b/c.py", b"c")])
    real = unpack._extract

    def slow(root_fd: int, m: object, zf: object) -> None:  # writes a.py and b/, then never finishes
        real(root_fd, m, zf)  # type: ignore[arg-type]
        if getattr(m, "path", "") == "b/c.py":
            while True:
                pass

    monkeypatch.setattr(unpack, "_extract", slow)
    dest = tmp_path / "out"
    if dest_exists:
        dest.mkdir()
    caps = replace(UNPACK_CAPS, cpu_seconds=1)
    with pytest.raises(
        UnpackError,
        match=r"'s.zip' could not be unpacked: it took longer than the grader allows for unpacking an archive \(1 s of CPU time or 120 s in all;",
    ):
        unpack_submission(src, dest, LIMITS, caps=caps)
    assert (dest.is_dir() and list(dest.iterdir()) == []) if dest_exists else not dest.exists()


def test_past_the_file_size_cap_the_unpack_stops(tmp_path: Path) -> None:
    src = build_zip(tmp_path / "s.zip", [("big.bin", b"x" * 5000)])
    with pytest.raises(UnpackError, match=r"would write more than the grader allows \(1000 bytes of output per file\)"):
        unpack_submission(src, tmp_path / "out", LIMITS, caps=replace(UNPACK_CAPS, file_bytes=1000))
    assert not (tmp_path / "out").exists()


def test_small_uploads_are_checked_in_process_and_the_rest_in_a_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks: list[str] = []
    real = unpack.run_confined

    def counted(work: Callable[..., Iterable[Any]], *args: Any, **kwargs: Any) -> Confined:
        forks.append(work.__name__)
        return real(work, *args, **kwargs)

    monkeypatch.setattr(unpack, "run_confined", counted)
    small = build_zip(tmp_path / "small.zip", [("run.py", b"print(1)\n")])
    large = build_zip(tmp_path / "large.zip", [("data.bin", os.urandom(2 * _MIB))])
    check_archive(small.read_bytes(), LIMITS)
    assert forks == []
    check_archive(large.read_bytes(), LIMITS)
    check_archive(small, LIMITS)
    with small.open("rb") as fh:
        check_archive(fh, LIMITS)
    unpack_submission(small, tmp_path / "out", LIMITS)
    assert forks == ["_check_here"] * 3 + ["_unpack_here"]


def test_a_crash_in_the_unpack_is_the_graders_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk or a bug is not the student's fault: it is raised as such (the job is retried)."""
    src = build_zip(tmp_path / "s.zip", [("a.py", b"a"), ("b.py", b"b")])

    def disk_full(root_fd: int, m: object, zf: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(unpack, "_extract", disk_full)
    with pytest.raises(ConfinedCrash, match="No space left on device"):
        unpack_submission(src, tmp_path / "out", LIMITS)
    assert not (tmp_path / "out").exists()
