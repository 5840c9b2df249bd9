"""Line-oriented file inputs and outputs.

Inputs read text lines (without the line ending) and resume from the byte
offset saved in their snapshot; reading stops at the end of the file **or
at the first empty line**, as in Bytewax 0.16. Outputs write one value per
line, flushed to the operating system per write and synced to disk with each
epoch's snapshot, and on resume cut the file back to the snapshotted offset
so that a recovered batch run writes each line once.

The parameters of every connector are readable attributes (`path`, `dir`,
`glob_pat`, `fmtparams`, ...); the engine may run a plain `FileInput`
natively instead of through these Python classes.
"""

import csv
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Set, Union

from bytewax.inputs import PartitionedInput, StatefulSource
from bytewax.outputs import PartitionedOutput, StatefulSink

__all__ = [
    "CSVInput",
    "DirInput",
    "DirOutput",
    "FileInput",
    "FileOutput",
]


class _FileSource(StatefulSource):
    """Reads lines of one text file; the snapshot is the offset after the last line read."""

    def __init__(self, path: Path, resume_state: Optional[int]):
        self._file = open(path, "rt")
        if resume_state is not None:
            self._file.seek(resume_state)

    def next(self) -> Optional[Any]:
        # readline() rather than iteration: iteration disables tell() on text files.
        line = self._file.readline().rstrip("\n")
        if not line:
            raise StopIteration()
        return line

    def snapshot(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class _CSVSource(_FileSource):
    """Reads a CSV file as dicts keyed by its header line."""

    def __init__(self, path: Path, resume_state: Optional[int], fmtparams: Dict[str, Any]):
        super().__init__(path, None)
        self._fmtparams = fmtparams
        self._header = self._parse(self._file.readline())
        if resume_state is not None:
            self._file.seek(resume_state)

    def _parse(self, line: str) -> list:
        return next(csv.reader([line], **self._fmtparams), [])

    def next(self) -> Optional[Any]:
        # Unlike plain lines, a blank CSV line is an empty record, not the end (Bytewax 0.16).
        line = self._file.readline()
        if line == "":
            raise StopIteration()
        return dict(zip(self._header, self._parse(line)))


class FileInput(PartitionedInput):
    """Read the lines of one text file; one partition, named `str(path)`.

    Each line is emitted without its line ending. Input ends at the end of
    the file or at the first empty line. Resumes from the byte offset of the
    last emitted line.
    """

    def __init__(self, path: Union[Path, str]):
        self._path = Path(path)

    @property
    def path(self) -> Path:
        """The file read."""
        return self._path

    def list_parts(self) -> Set[str]:
        return {str(self._path)}

    def _check_part(self, for_part: str) -> None:
        if for_part != str(self._path):
            raise ValueError(
                f"{type(self).__name__} for `{self._path}` can't resume reading "
                f"partition `{for_part}`: that is a different file"
            )

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _FileSource:
        self._check_part(for_part)
        return _FileSource(self._path, resume_state)


class CSVInput(FileInput):
    """Read a CSV file as one dict per row, keyed by the header (first) line.

    `fmtparams` are passed to `csv.reader` (e.g. `delimiter=";"`). A blank
    line gives an empty dict. Each line is parsed on its own, so quoted
    fields spanning several lines are not supported.
    """

    def __init__(self, path: Union[Path, str], **fmtparams: Any):
        super().__init__(path)
        self.fmtparams = fmtparams

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _CSVSource:
        self._check_part(for_part)
        return _CSVSource(self._path, resume_state, self.fmtparams)


class DirInput(PartitionedInput):
    """Read the lines of every file in `dir` matching `glob_pat`; one partition per file.

    Partitions are the matching files' paths relative to `dir`; the set of
    files must be the same for every worker (e.g. a shared directory).
    Directories matched by the pattern are skipped. Line semantics are those
    of `FileInput`.
    """

    def __init__(self, dir: Union[Path, str], glob_pat: str = "*"):  # noqa: A002 - 0.16 name
        dir = Path(dir)
        if not dir.exists():
            raise ValueError(f"input directory `{dir}` does not exist")
        if not dir.is_dir():
            raise ValueError(f"input directory `{dir}` is not a directory")
        self._dir = dir
        self._glob_pat = glob_pat

    @property
    def dir(self) -> Path:
        """The directory searched."""
        return self._dir

    @property
    def glob_pat(self) -> str:
        """The glob pattern, relative to `dir`, selecting the files read."""
        return self._glob_pat

    def list_parts(self) -> Set[str]:
        return {
            str(path.relative_to(self._dir))
            for path in self._dir.glob(self._glob_pat)
            if path.is_file()
        }

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _FileSource:
        return _FileSource(self._dir / for_part, resume_state)


class _FileSink(StatefulSink):
    """Appends lines to one file; the snapshot is the file size after the last write.

    Each write is flushed, so a killed process loses no line it wrote; the
    disk sync happens once per snapshot, so that the size recorded with an
    epoch never exceeds what survives a power loss.
    """

    def __init__(self, path: Path, resume_state: Optional[int], end: str):
        self._file = open(path, "at")
        # Drop whatever was written after the snapshot (or everything, on a fresh
        # start) so that replayed epochs do not duplicate lines.
        self._file.seek(resume_state or 0)
        self._file.truncate()
        self._end = end

    def write(self, value: Any) -> None:
        self._file.write(value)
        self._file.write(self._end)
        self._file.flush()

    def snapshot(self) -> int:
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class FileOutput(PartitionedOutput):
    """Write each value of `(key, value)` items as one line of the file at `path`.

    Values must be `str`; `end` is written after each. One partition, named
    `str(path)`. A fresh run empties the file; a resumed run cuts it back to
    the last snapshot.
    """

    def __init__(self, path: Union[Path, str], end: str = "\n"):
        self._path = Path(path)
        self._end = end

    @property
    def path(self) -> Path:
        """The file written."""
        return self._path

    @property
    def end(self) -> str:
        """The text written after each value."""
        return self._end

    def list_parts(self) -> Set[str]:
        return {str(self._path)}

    def assign_part(self, item_key: str) -> str:
        return str(self._path)

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _FileSink:
        if for_part != str(self._path):
            raise ValueError(
                f"FileOutput for `{self._path}` can't resume writing "
                f"partition `{for_part}`: that is a different file"
            )
        return _FileSink(self._path, resume_state, self._end)


def _part_file_name(index: int, file_count: int) -> str:
    return f"part_{index}"


def _adler32_of_key(item_key: str) -> int:
    # A stable checksum, unlike hash(), which is salted per process.
    return zlib.adler32(item_key.encode())


class DirOutput(PartitionedOutput):
    """Write values of `(key, value)` items into `file_count` files inside `dir`.

    An item goes to file number `assign_file(key) % file_count`, named
    `file_namer(number, file_count)` (default `part_{number}`); the default
    `assign_file` is the Adler-32 checksum of the key. Each file behaves like
    a `FileOutput`. `dir` must exist.
    """

    def __init__(
        self,
        dir: Union[Path, str],  # noqa: A002 - 0.16 name
        file_count: int,
        file_namer: Callable[[int, int], str] = _part_file_name,
        assign_file: Callable[[str], int] = _adler32_of_key,
        end: str = "\n",
    ):
        self._dir = Path(dir)
        self._file_count = file_count
        self._file_namer = file_namer
        self._assign_file = assign_file
        self._end = end

    @property
    def dir(self) -> Path:
        """The directory the files are written in."""
        return self._dir

    @property
    def file_count(self) -> int:
        """How many files (partitions) are written."""
        return self._file_count

    @property
    def file_namer(self) -> Callable[[int, int], str]:
        """`(file number, file count) -> file name`."""
        return self._file_namer

    @property
    def assign_file(self) -> Callable[[str], int]:
        """`item key -> int`, taken modulo `file_count` to pick the file."""
        return self._assign_file

    @property
    def end(self) -> str:
        """The text written after each value."""
        return self._end

    def list_parts(self) -> Set[str]:
        return {self._file_namer(i, self._file_count) for i in range(self._file_count)}

    def assign_part(self, item_key: str) -> str:
        index = self._assign_file(item_key) % self._file_count
        return self._file_namer(index, self._file_count)

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _FileSink:
        return _FileSink(self._dir / for_part, resume_state, self._end)
