"""Reference networks: missing names, 0/1 labels, unknown layouts, weight columns, whitespace.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scgrn
from scgrn.tl._pair_classifier import reference_adjacency


# ---------------------------------------------------------------------------------------------
# reference rows with NaN names
# ---------------------------------------------------------------------------------------------
def _ref_with_nan(column):
    ref = pd.DataFrame({"source": ["Gata1", "Pu.1"], "target": ["Gata2", "Fli1"]})
    ref.loc[1, column] = np.nan
    return ref


@pytest.mark.parametrize("column", ["source", "target"])
@pytest.mark.parametrize(
    "call",
    [
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson"),
        lambda a, ref: scgrn.metrics.random_baseline(ref, a.var_names, n_repeats=1),
        lambda a, ref: scgrn.metrics.precision_recall_at_k(a, ref, key="pearson"),
        lambda a, ref: scgrn.metrics.evaluate_grn(ref.assign(weight=1.0), ref.fillna("Gata2"), var_names=a.var_names),
        lambda a, ref: scgrn.tl._pair_classifier.reference_adjacency(ref, a.var_names),
    ],
    ids=["evaluate_grn", "random_baseline", "precision_recall_at_k", "long_grn", "reference_adjacency"],
)
def test_reference_rows_with_nan_names_are_refused(adata, column, call):
    scgrn.tl.correlation(adata)
    adata.var_names = [*adata.var_names[:-1], "nan"]  # a gene named 'nan' would match the NaN
    with pytest.raises(ValueError, match=rf"1 row\(s\) with a missing gene name \(NaN\) in '{column}'"):
        call(adata, _ref_with_nan(column))


# ---------------------------------------------------------------------------------------------
# evaluate_grn reads the weight column as numbers (second run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["weight", "EdgeWeight"])
def test_evaluate_grn_names_a_non_numeric_weight_column(krumsiek, column):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    e = scgrn.get.edges(a, key="pearson").rename(columns={"weight": column})
    e[column] = e[column].astype(object)
    e.loc[3, column] = "high"
    with pytest.raises(ValueError, match=rf"'{column}' column must hold numeric edge weights.*1 of its \d+ values.*'high'; the first in row 3"):
        scgrn.metrics.evaluate_grn(e, truth)


def test_evaluate_grn_accepts_numeric_strings_as_weights(krumsiek):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    e = scgrn.get.edges(a, key="pearson")
    expected = scgrn.metrics.evaluate_grn(e, truth)
    assert scgrn.metrics.evaluate_grn(e.assign(weight=e["weight"].astype(str)), truth)["EP"] == expected["EP"]


# ---------------------------------------------------------------------------------------------
# one reference reader (third run)
# ---------------------------------------------------------------------------------------------
def _labelled_reference(truth, genes, n_negatives=30):
    """The true edges labelled 1 plus some listed non-edges labelled 0 (DREAM gold-standard layout)."""
    pos = set(zip(truth.source, truth.target))
    neg = [(s, t) for s in genes for t in genes if s != t and (s, t) not in pos][:n_negatives]
    return pd.concat(
        [truth[["source", "target"]].assign(weight=1), pd.DataFrame(neg, columns=["source", "target"]).assign(weight=0)],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    "layout",
    [
        lambda r: r,  # 'weight' of 0/1
        lambda r: r.rename(columns={"weight": "label"}),
        lambda r: r.assign(weight=r.weight.astype(bool)),
        lambda r: r.assign(weight=r.weight.astype(str)),  # '0' / '1' as text (read_csv(dtype=str))
        lambda r: r.rename(columns={"source": "regulator"}),
        lambda r: r.rename(columns={"source": "TF"}),
        lambda r: r.rename(columns={"source": "Gene1", "target": "Gene2"}),
        lambda r: r.set_axis([0, 1, 2], axis=1),  # a DREAM file read with header=None
    ],
    ids=["weight01", "label01", "bool", "text01", "regulator", "TF", "Gene1Gene2", "header_none"],
)
@pytest.mark.parametrize(
    "score",
    [
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson")["EPR"],
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson", convention="beeline")["AUROC"],
        lambda a, ref: scgrn.metrics.random_baseline(ref, a.var_names, n_repeats=2)["k"],
        lambda a, ref: scgrn.metrics.precision_recall_at_k(a, ref, key="pearson")["n_true"],
        lambda a, ref: int(reference_adjacency(ref, a.var_names).sum()),
    ],
    ids=["evaluate_grn", "evaluate_beeline", "random_baseline", "precision_recall_at_k", "reference_adjacency"],
)
def test_reference_rows_labelled_0_are_not_edges(krumsiek, layout, score):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    ref = layout(_labelled_reference(truth, list(a.var_names)))
    assert score(a, ref) == pytest.approx(score(a, truth))


def test_reference_reader_is_shared_and_scores_stay_the_same(krumsiek):
    """Guards: the plain layouts score as before (krumsiek11: EPR 2.115 for pearson), signed or
    confidence weights keep every non-zero row, and the readers are one function."""
    from scgrn._reference import read_reference

    a, truth = krumsiek
    scgrn.tl.correlation(a)
    plain = scgrn.metrics.evaluate_grn(a, truth, key="pearson")
    assert plain["k"] == 26 and plain["EPR"] == pytest.approx(2.115, abs=1e-3)
    signed = truth.assign(weight=np.where(np.arange(len(truth)) % 2, -1.0, 1.0))
    assert scgrn.metrics.evaluate_grn(a, signed, key="pearson") == plain
    confidence = truth.assign(weight=np.linspace(0.1, 0.9, len(truth)))
    assert scgrn.metrics.evaluate_grn(a, confidence, key="pearson") == plain
    assert read_reference(truth.assign(weight="activation")).shape == (26, 2)  # text weights: ignored


@pytest.mark.parametrize(
    "ref, match",
    [
        (pd.DataFrame({"source": ["Gata1"], "target": ["Fog1"], "label": [0]}), r"no true edge: all 1 rows are labelled 0"),
        (pd.DataFrame({"source": ["Gata1"], "target": ["Fog1"], "label": [0.5]}), r"'label' column must hold 0/1.*0.5"),
        (pd.DataFrame({"source": ["Gata1"], "target": ["Fog1"], "label": ["maybe"]}), r"'label' column must hold 0/1.*'maybe'"),
        (pd.DataFrame({"Source": ["Gata1"], "Target": ["Fog1"]}), r"no regulator \(source\) and target column.*capitalisation.*str.lower"),
        (pd.DataFrame({"from": ["Gata1"], "to": ["Fog1"]}), r"no regulator \(source\) and target column.*'regulator' / 'TF'.*got columns \['from', 'to'\]"),
        (pd.DataFrame({"target": ["Fog1"]}, index=pd.Index(["Gata1"], name="source")), r"index is named 'source'.*reset_index"),
        (pd.DataFrame(np.eye(2), index=["Gata1", "Fog1"], columns=["Gata1", "Fog1"]), r"square genes x genes matrix.*stack"),
    ],
    ids=["all_negative", "label_not_01", "label_text", "capitalised", "unknown", "source_as_index", "wide"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson"),
        lambda a, ref: scgrn.metrics.precision_recall_at_k(a, ref, key="pearson"),
        lambda a, ref: reference_adjacency(ref, a.var_names),
    ],
    ids=["evaluate_grn", "precision_recall_at_k", "reference_adjacency"],
)
def test_unknown_reference_layouts_are_refused(adata, ref, match, call):
    scgrn.tl.correlation(adata)
    with pytest.raises(ValueError, match=match):
        call(adata, ref)


def test_dream4_gold_standard_keeps_only_positive_rows(tmp_path):
    """datasets.dream4 reads its gold standard through the same reader: only label-1 rows."""
    from scgrn.datasets._dream4 import _example_tree

    root = _example_tree(str(tmp_path))
    _, gold = scgrn.datasets.dream4(1, size=10, data_dir=root)
    gs = next(tmp_path.rglob("*GoldStandard*.tsv"))
    raw = pd.read_csv(gs, sep="\t", header=None)
    expected = raw[(raw[2] == 1) & (raw[0] != raw[1])]
    assert len(gold) == len(expected) and list(gold.columns) == ["source", "target"]
    # the same file given to evaluate_grn with header=None scores as the loader's table
    assert reference_adjacency(raw, sorted(set(raw[0]) | set(raw[1]))).sum() == len(expected)


# ---------------------------------------------------------------------------------------------
# reference names with surrounding whitespace (seventh run)
# ---------------------------------------------------------------------------------------------
def test_reference_names_with_whitespace_get_a_strip_hint():
    genes = ["a", "b", "c", "d", "e"]
    w = np.random.default_rng(0).normal(size=(5, 5)).astype(np.float32)
    ref = pd.DataFrame({"source": ["a ", "a ", "b ", "c "], "target": ["b", "c", "d", "e"]})
    with pytest.raises(ValueError, match=r"No reference edge is left.*only after stripping surrounding "
                       r"whitespace \('a ' -> 'a'.*s\.str\.strip\(\)"), pytest.warns(UserWarning):
        scgrn.metrics.evaluate_grn(w, ref, var_names=genes)
    ref.loc[0, "source"] = "a"  # one edge left: the warning carries the hint
    with pytest.warns(UserWarning, match="3 of 4 reference edges were dropped.*only after stripping"):
        scgrn.metrics.evaluate_grn(w, ref, var_names=genes)
