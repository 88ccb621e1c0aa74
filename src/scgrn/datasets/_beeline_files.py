"""Reading the files of one BEELINE folder: the expression matrix (genes x cells), the
network (``Gene1,Gene2[,Type]``) and the checks that name a bad value's file, row and column."""

from __future__ import annotations

import gzip
import warnings
import zlib
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

#: the values of a network file's ``Type`` column: BEELINE writes '+' and '-' (and 1 / -1 are read)
_SIGNS = {"+": 1, "-": -1, "1": 1, "-1": -1}


def _read_network(path: Path) -> pd.DataFrame:
    """Read a ``Gene1,Gene2[,Type]`` file into ``source, target[, sign]``.

    Self-loops and duplicated (source, target) pairs are dropped (first kept).
    """
    raw = _read_csv(path, dtype=str)
    if raw.shape[1] < 2:
        raise ValueError(
            f"The network file {str(path)!r} needs at least two columns (Gene1,Gene2); "
            f"found {list(raw.columns)}."
        )
    net = pd.DataFrame(
        {"source": raw.iloc[:, 0].str.strip(), "target": raw.iloc[:, 1].str.strip()}
    )
    type_col = next((c for c in raw.columns[2:] if str(c).strip().lower() == "type"), None)
    if type_col is not None:
        types = raw[type_col].str.strip()
        sign = types.map(_SIGNS)
        unknown = sign.isna()
        if unknown.any():
            values = types[unknown]
            counts = values.fillna("<empty>").value_counts()
            shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(5).items())
            warnings.warn(
                f"The {type_col!r} column of {path.name} ({str(path)!r}) has {int(unknown.sum())} of "
                f"{len(types)} edge(s) whose type is not '+' (activation) or '-' (repression), BEELINE's "
                f"values: {shown}{', ...' if len(counts) > 5 else ''}. Their sign is set to 0 (unknown). "
                "Rewrite the column with '+' / '-' to keep the signs, e.g. `df['Type'] = "
                "df['Type'].map({'activation': '+', 'repression': '-'})`.",
                UserWarning,
                stacklevel=3,
            )
        net["sign"] = sign.fillna(0).astype(np.int64)
    net = net.dropna(subset=["source", "target"])
    net = net[net["source"] != net["target"]]
    net = net.drop_duplicates(subset=["source", "target"], keep="first")
    return net.reset_index(drop=True)


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` of a BEELINE file; an empty, binary or malformed file raises a
    ``ValueError`` naming it."""
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path.name} ({str(path)!r}) is empty (no header, no rows). Write it again, or remove "
            "it from the folder."
        ) from None
    except (UnicodeDecodeError, gzip.BadGzipFile, zlib.error, EOFError) as err:
        kind = "gzip-compressed CSV" if path.suffix == ".gz" else "text CSV"
        raise ValueError(
            f"{path.name} ({str(path)!r}) is not a {kind} file ({type(err).__name__}: {str(err)[:100]}): "
            "it holds binary content, e.g. a spreadsheet saved under a .csv name. Export it as CSV "
            "(comma-separated text, UTF-8) from the program that wrote it."
        ) from None
    except pd.errors.ParserError as err:
        raise ValueError(
            f"{path.name} ({str(path)!r}) is not a valid CSV file: {str(err).strip()[:200]}. Check "
            "that every row has the same number of comma-separated fields."
        ) from None


def _refuse_non_numeric(df: pd.DataFrame, path: Path, what: str, kinds: tuple[str, str], fix: str) -> None:
    """Raise naming the file, the count and the first entry of ``df`` that is not a number
    (``kinds``: what its rows and columns are)."""
    found = _first_non_numeric(df)
    if found is not None:
        count, row, col, value = found
        raise ValueError(
            f"{path.name} ({str(path)!r}) has {count} {what} that are not numbers, e.g. {value!r} in "
            f"row {str(row)!r} ({kinds[0]}), column {str(col)!r} ({kinds[1]}). {fix}"
        )


def _first_non_numeric(df: pd.DataFrame) -> tuple[int, object, object, object] | None:
    """``(count, row label, column label, value)`` of the values of ``df`` that are present but
    not numbers (the first one in file order), or ``None`` when every value is a number or empty."""
    count, first = 0, None
    for position, col in enumerate(df.columns):
        values = df.iloc[:, position]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        if pd.api.types.is_bool_dtype(values):
            bad = values.notna()
        if bad.any():
            count += int(bad.sum())
            if first is None:
                row = int(np.flatnonzero(bad.to_numpy())[0])
                first = (df.index[row], col, values.iloc[row])
    return None if first is None else (count, *first)


def _read_expression(path: Path) -> ad.AnnData:
    """BEELINE ``ExpressionData.csv[.gz]`` (genes x cells on disk) -> AnnData cells x genes."""
    df = _read_csv(path, index_col=0)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(
            f"{path.name} ({str(path)!r}) has {df.shape[0]} gene row(s) and {df.shape[1]} cell "
            "column(s); a BEELINE expression file needs genes in rows and cells in columns, with the "
            "gene names in the first column."
        )
    _refuse_non_numeric(df, path, "value(s)", ("gene", "cell"),
                        "Expression values must be numbers; an empty field (or NA) is read as missing. "
                        "Fix or remove those entries.")
    X = df.to_numpy(dtype=np.float32).T
    obs = pd.DataFrame(index=pd.Index(df.columns.astype(str), name=None))
    var = pd.DataFrame(index=pd.Index(df.index.astype(str), name=None))
    return ad.AnnData(X=np.ascontiguousarray(X), obs=obs, var=var)


def _check_expression_orientation(adata: ad.AnnData, net: pd.DataFrame, expr_file: Path, net_path: Path) -> None:
    """Raise when the network's genes are the columns of the expression file, not its rows: the
    file was written cells x genes, and reading it as BEELINE's genes x cells would swap the axes."""
    genes = pd.Index(pd.unique(np.concatenate([net["source"].to_numpy(), net["target"].to_numpy()])))
    in_var = int(genes.isin(adata.var_names).sum())
    in_obs = int(genes.isin(adata.obs_names).sum())
    if in_obs > 0 and in_var == 0:
        raise ValueError(
            f"None of the {len(genes)} genes of {net_path.name} is a row of {expr_file.name}, but "
            f"{in_obs} are among its columns (e.g. {list(genes[genes.isin(adata.obs_names)][:3])}): the "
            "file has cells in rows and genes in columns. BEELINE's ExpressionData.csv has genes in "
            "rows and cells in columns; transpose it, e.g. `df = pd.read_csv(path, index_col=0); "
            "df.T.to_csv(path)`."
        )
