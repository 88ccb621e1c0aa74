"""Transcription-factor lists of the benchmark data folder (``tfs/``)."""

from __future__ import annotations

import os

from .._params import check_choice
from ._paths import data_dir as _data_dir

__all__ = ["tf_list"]

#: organism -> file of ``tfs/``: human HGNC symbols, mouse MGI symbols, one per line
TF_FILES = {"human": "hs_hgnc_tfs.txt", "mouse": "mm_mgi_tfs.txt"}


def tf_list(organism: str = "human", *, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Transcription factors of human (HGNC symbols) or mouse (MGI symbols).

    Reads ``tfs/<file>`` of the benchmark data folder (``data_dir`` or ``$SCGRN_DATA_DIR``):
    1,839 human or 1,721 mouse TFs, for the ``tfs=`` of the GRN tools. Keep those in your
    data: ``[g for g in tf_list("human") if g in adata.var_names]``.

    Parameters
    ----------
    organism
        ``"human"`` or ``"mouse"``.
    data_dir
        Benchmark data folder (``None``: ``$SCGRN_DATA_DIR``).

    Returns
    -------
    The symbols, in file order, without duplicates.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from scgrn.datasets import tf_list
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (pathlib.Path(tmp) / "tfs").mkdir()
    ...     _ = (pathlib.Path(tmp) / "tfs" / "hs_hgnc_tfs.txt").write_text("SPI1\\nGATA3\\nSPI1\\n")
    ...     tf_list("human", data_dir=tmp)
    ['SPI1', 'GATA3']
    """
    organism = check_choice("organism", organism, tuple(TF_FILES))
    path = _data_dir(data_dir) / "tfs" / TF_FILES[organism]
    if not path.is_file():
        raise FileNotFoundError(f"No {organism} TF list at {str(path)!r}: the data folder has no tfs/{TF_FILES[organism]}.")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return list(dict.fromkeys(names))
