"""Where the benchmark data live: an argument, else the ``SCGRN_DATA_DIR`` environment variable."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SCGRN_DATA_DIR"

_WHERE_FROM = (
    "The folder should be shaped like scgrn's benchmark data folder, with subfolders "
    "beeline/ (scRNA-seq/, synthetic/, curated/), dream4/, clustering/ and perturbation/. "
    "The data come from BEELINE (Pratapa et al. 2020, Zenodo doi:10.5281/zenodo.3378975) "
    "and DREAM4 (via the Bioconductor package networkBMA or dreamtools)."
)


def data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the benchmark data folder.

    Parameters
    ----------
    data_dir
        The folder. If ``None``, the environment variable ``SCGRN_DATA_DIR`` is used.

    Returns
    -------
    The folder as an absolute :class:`pathlib.Path` (``~`` expanded).

    Raises
    ------
    FileNotFoundError
        If neither ``data_dir`` nor ``SCGRN_DATA_DIR`` is given, or the folder does not exist
        (or is a file: :class:`NotAFolderError`, also a ``FileNotFoundError``). The message
        explains how to set it and where the data come from.

    Examples
    --------
    >>> import tempfile
    >>> from scgrn.datasets import data_dir
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     data_dir(tmp).is_dir()
    True
    """
    if data_dir is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if not env:
            raise FileNotFoundError(
                f"No benchmark data folder given. Set the environment variable {ENV_VAR} "
                f"(e.g. `export {ENV_VAR}=/path/to/data`) or pass data_dir=. {_WHERE_FROM}"
            )
        path, origin = Path(env), f"${ENV_VAR}"
    else:
        path, origin = Path(data_dir), "data_dir"
    path = path.expanduser().resolve()
    return check_folder(
        path,
        f"The benchmark data folder {str(path)!r} (from {origin})",
        f"Point {ENV_VAR} or data_dir= at an existing folder. {_WHERE_FROM}",
    )


class NotAFolderError(NotADirectoryError, FileNotFoundError):
    """A path that should be a folder is a file.

    Subclasses both :class:`NotADirectoryError` and :class:`FileNotFoundError` (what the
    loaders document for a folder that is not there), so either can be caught.
    """


class NotAFileError(IsADirectoryError, FileNotFoundError):
    """A path that should be a file is a folder (or another non-file entry).

    Subclasses both :class:`IsADirectoryError` and :class:`FileNotFoundError` (what the
    loaders document for a file that is not there), so either can be caught.
    """


def check_file(path: Path, what: str) -> None:
    """Raise :class:`NotAFileError` when ``path`` exists but is not a file (``what`` names it)."""
    if path.exists() and not path.is_file():
        raise NotAFileError(
            f"{what} {str(path)!r} is a folder, not a file. Move or rename that folder, and put the "
            "file itself there."
        )


def check_folder(path: Path, what: str, fix: str) -> Path:
    """``path`` if it is a folder; else :class:`FileNotFoundError` (missing) or
    :class:`NotAFolderError` (a file), the message starting with ``what`` and ending with ``fix``."""
    if path.is_dir():
        return path
    if path.exists():
        raise NotAFolderError(
            f"{what} is a file, not a folder. Pass the folder that holds it"
            f"{f' ({str(path.parent)!r}?)' if path.parent != path else ''}. {fix}"
        )
    raise FileNotFoundError(f"{what} does not exist. {fix}")


def _subdir(root: Path, *parts: str, what: str = "folder") -> Path:
    """``root / parts``, or FileNotFoundError naming the missing path."""
    path = root.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"The {what} {str(path)!r} is missing from the benchmark data folder {str(root)!r}. "
            f"{_WHERE_FROM}"
        )
    return path


def _find_file(folder: Path, stem: str, *, strict: bool = False) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz`` (first found), else ``None``; with ``strict``, a
    folder of either name raises :class:`NotAFileError` (else it is passed over, as when listing)."""
    for name in (stem, stem + ".gz"):
        if strict:
            check_file(folder / name, "The file")
        if (folder / name).is_file():
            return folder / name
    return None
