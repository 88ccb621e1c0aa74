"""Files and folders: read_beeline_folder, datasets.dream4, a file where a folder is expected.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scgrn


# ---------------------------------------------------------------------------------------------
# datasets.read_beeline_folder: no silent coercion of bad values (second run)
# ---------------------------------------------------------------------------------------------
def _beeline_folder(tmp_path, *, types=("+", "-"), pseudotime=None, expression=None):
    cells = [f"c{i}" for i in range(12)]
    x = expression if expression is not None else pd.DataFrame(
        np.random.default_rng(0).random((3, 12)).round(3), index=list("ABC"), columns=cells
    )
    x.to_csv(tmp_path / "ExpressionData.csv")
    if pseudotime is not None:
        pd.DataFrame({"PseudoTime": pseudotime}, index=cells).to_csv(tmp_path / "PseudoTime.csv")
    pd.DataFrame({"Gene1": ["A", "B"], "Gene2": ["B", "C"], "Type": list(types)}).to_csv(
        tmp_path / "refNetwork.csv", index=False
    )
    return tmp_path


def test_read_beeline_folder_warns_on_unknown_edge_types(tmp_path):
    _beeline_folder(tmp_path, types=("activation", "repression"))
    with pytest.warns(UserWarning, match=r"'Type' column of refNetwork.csv.*2 of 2 edge\(s\).*'activation' \(1\), 'repression' \(1\).*sign is set to 0"):
        _, net = scgrn.datasets.read_beeline_folder(tmp_path)
    assert net["sign"].tolist() == [0, 0]


def test_read_beeline_folder_reads_signs_and_missing_pseudotime_quietly(tmp_path):
    _beeline_folder(tmp_path, pseudotime=[0.1, np.nan] * 6)  # NaN: a cell off this trajectory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adata, net = scgrn.datasets.read_beeline_folder(tmp_path)
    assert net["sign"].tolist() == [1, -1] and int(adata.obs["PseudoTime"].isna().sum()) == 6


def test_read_beeline_folder_refuses_non_numeric_pseudotime(tmp_path):
    _beeline_folder(tmp_path, pseudotime=["early", "late"] * 6)
    with pytest.raises(ValueError, match=r"PseudoTime.csv.*12 pseudotime value\(s\) that are not numbers.*'early' in row 'c0' \(cell\), column 'PseudoTime'"):
        scgrn.datasets.read_beeline_folder(tmp_path)


def test_read_beeline_folder_refuses_non_numeric_expression(tmp_path):
    x = pd.DataFrame(np.random.default_rng(0).random((3, 12)).round(3).astype(object), index=list("ABC"),
                     columns=[f"c{i}" for i in range(12)])
    x.iloc[1, 4] = "n/a?"
    _beeline_folder(tmp_path, expression=x)
    with pytest.raises(ValueError, match=r"ExpressionData.csv.*1 value\(s\) that are not numbers.*'n/a\?' in row 'B' \(gene\), column 'c4' \(cell\)"):
        scgrn.datasets.read_beeline_folder(tmp_path)


@pytest.mark.parametrize("name", ["ExpressionData.csv", "PseudoTime.csv", "refNetwork.csv"])
def test_read_beeline_folder_refuses_an_empty_file_naming_it(tmp_path, name):
    _beeline_folder(tmp_path, pseudotime=[0.5] * 12)
    (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match=rf"{name} .* is empty"):
        scgrn.datasets.read_beeline_folder(tmp_path)


# ---------------------------------------------------------------------------------------------
# a file where a folder is expected (second run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda f, mp: scgrn.datasets.read_beeline_folder(f),
        lambda f, mp: scgrn.datasets.data_dir(f),
        lambda f, mp: (mp.setenv("SCGRN_DATA_DIR", str(f)), scgrn.datasets.beeline("hESC")),
        lambda f, mp: (mp.setenv("SCGRN_DATA_DIR", str(f)), scgrn.datasets.dream4(1)),
    ],
    ids=["read_beeline_folder", "data_dir", "env_beeline", "env_dream4"],
)
def test_a_file_where_a_folder_is_expected(tmp_path, monkeypatch, call):
    from scgrn.datasets._paths import NotAFolderError

    f = tmp_path / "refNetwork.csv"
    f.write_text("Gene1,Gene2\nA,B\n")
    with pytest.raises(NotAFolderError, match=r"refNetwork.csv' .*is a file, not a folder") as err:
        call(f, monkeypatch)
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, NotADirectoryError)
    assert "does not exist" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# bad files in a BEELINE folder, DREAM4 network numbers (sixth run)
# ---------------------------------------------------------------------------------------------
def _expression_csv(folder):
    pd.DataFrame([[0.1, 0.5, 0.9], [1.0, 0.2, 0.0]], index=["g1", "g2"], columns=["c1", "c2", "c3"]).to_csv(
        folder / "ExpressionData.csv"
    )


@pytest.mark.parametrize(
    "make, kind, match",
    [
        (lambda f: (f / "ExpressionData.csv").mkdir(), FileNotFoundError, r"^The file '.*ExpressionData.csv' is a folder, not a file"),
        (lambda f: (f / "ExpressionData.csv").write_bytes(b"PK\x03\x04\x81\x82\xff" * 50), ValueError,
         r"^ExpressionData.csv \('.*'\) is not a text CSV file \(UnicodeDecodeError.*binary content"),
        (lambda f: (f / "ExpressionData.csv.gz").write_bytes(b"not gzip at all"), ValueError,
         r"^ExpressionData.csv.gz \('.*'\) is not a gzip-compressed CSV file"),
        (lambda f: (f / "ExpressionData.csv").write_text("g,c1,c2\ng1,1,2\ng2,1,2,3,4\n"), ValueError,
         r"^ExpressionData.csv \('.*'\) is not a valid CSV file: .*Expected 3 fields in line 3, saw 5"),
        (lambda f: (_expression_csv(f), (f / "PseudoTime.csv").mkdir()), FileNotFoundError,
         r"^The file '.*PseudoTime.csv' is a folder, not a file"),
        (lambda f: (_expression_csv(f), (f / "refNetwork.csv").mkdir()), FileNotFoundError,
         r"^The network file '.*refNetwork.csv' is a folder, not a file"),
    ],
    ids=["expression_is_a_folder", "expression_is_binary", "gz_not_gzip", "ragged_rows", "pseudotime_is_a_folder",
         "network_is_a_folder"],
)
def test_read_beeline_folder_names_a_bad_file(tmp_path, make, kind, match):
    """A folder named ExpressionData.csv was reported missing; a binary one gave a bare UnicodeDecodeError."""
    make(tmp_path)
    network = "refNetwork.csv" if "network" in match else None
    with pytest.raises(kind, match=match):
        scgrn.datasets.read_beeline_folder(tmp_path, network_file=network)


@pytest.mark.parametrize("network", [0, 6, True, 2.0])
def test_dream4_network_is_1_to_5(tmp_path, network):
    """dream4(6) blamed the data folder."""
    with pytest.raises(ValueError, match=rf"^network={network!r} must be an integer from 1 to 5 \(DREAM4 has networks 1-5"):
        scgrn.datasets.dream4(network, data_dir=tmp_path)
