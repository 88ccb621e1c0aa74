"""Tests for scgrn.metrics (GRN scoring)."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.metrics import (
    auc,
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

from scgrn.metrics import (
    auprc,
    auprc_ratio,
    auroc,
    early_precision,
    epr,
    evaluate_grn,
    random_baseline,
)

METRICS = ("EP", "EPR", "AUPRC", "AUPRC_ratio", "AUROC")


def _random_instance(n_genes=30, n_tfs=6, n_edges=25, seed=0):
    """Directed reference (no reciprocal pairs) over gene names g0..g{n-1}."""
    rng = np.random.default_rng(seed)
    genes = np.array([f"g{i}" for i in range(n_genes)])
    tfs = rng.choice(n_genes, n_tfs, replace=False)
    edges: set[tuple[int, int]] = set()
    while len(edges) < n_edges:
        s, t = int(rng.choice(tfs)), int(rng.integers(n_genes))
        if s != t and (t, s) not in edges:
            edges.add((s, t))
    src, tgt = zip(*sorted(edges))
    ref = pd.DataFrame({"source": genes[list(src)], "target": genes[list(tgt)]})
    return genes, ref, rng


def _adjacency(ref, genes):
    idx = {g: i for i, g in enumerate(genes)}
    mat = np.zeros((len(genes), len(genes)), dtype=np.float32)
    for s, t in zip(ref["source"], ref["target"]):
        mat[idx[s], idx[t]] = 1.0
    return mat


def _brute_universe(genes, ref, all_pairs=False):
    """Python-loop candidate list in var_names (row-major) order."""
    edges = {(s, t) for s, t in zip(ref["source"], ref["target"]) if s != t}
    tfs = {s for s, _ in edges}
    ref_genes = tfs | {t for _, t in edges}
    rows = [g for g in genes if (g in ref_genes if all_pairs else g in tfs)]
    cols = [g for g in genes if g in ref_genes]
    cands = [(i, j) for i in rows for j in cols if i != j]
    return cands, edges


def _brute_scores(mat, genes, ref, all_pairs=False):
    idx = {g: i for i, g in enumerate(genes)}
    cands, edges = _brute_universe(genes, ref, all_pairs)
    y = np.array([c in edges for c in cands])
    s = np.array([abs(float(mat[idx[a], idx[b]])) for a, b in cands])
    return cands, edges, y, s


# ---------------------------------------------------------------------------
# evaluate_grn: sanity of the metric values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["deepsem", "beeline"])
def test_perfect_scores(convention):
    genes, ref, _ = _random_instance()
    res = evaluate_grn(_adjacency(ref, genes), ref, var_names=genes, convention=convention)
    assert res["convention"] == convention
    assert res["k"] == len(ref)
    assert res["density"] == pytest.approx(res["k"] / res["n_candidates"])
    assert res["EP"] == pytest.approx(1.0)
    assert res["EPR"] == pytest.approx(1.0 / res["density"])
    assert res["AUROC"] == pytest.approx(1.0)
    assert res["AUPRC"] == pytest.approx(1.0)
    dens = res["density_all_pairs"] if convention == "beeline" else res["density"]
    assert res["AUPRC_ratio"] == pytest.approx(1.0 / dens)


@pytest.mark.parametrize("convention", ["deepsem", "beeline"])
def test_transposed_network_scores_worse(convention):
    genes, ref, _ = _random_instance()
    perfect = _adjacency(ref, genes)
    good = evaluate_grn(perfect, ref, var_names=genes, convention=convention)
    bad = evaluate_grn(perfect.T.copy(), ref, var_names=genes, convention=convention)
    assert bad["EPR"] < 0.5 * good["EPR"]
    assert bad["AUROC"] < 0.75
    assert bad["AUPRC_ratio"] < 0.5 * good["AUPRC_ratio"]


def test_random_scores_near_chance():
    genes, ref, rng = _random_instance(n_genes=300, n_tfs=40, n_edges=1000, seed=1)
    w = rng.normal(size=(300, 300)).astype(np.float32)
    for convention in ("deepsem", "beeline"):
        res = evaluate_grn(w, ref, var_names=genes, convention=convention)
        assert res["EPR"] == pytest.approx(1.0, abs=0.4)
        assert res["AUPRC_ratio"] == pytest.approx(1.0, abs=0.3)
        assert res["AUROC"] == pytest.approx(0.5, abs=0.05)
        base = random_baseline(ref, genes, convention=convention, n_repeats=3, random_state=0)
        assert base["n_repeats"] == 3 and base["k"] == res["k"]
        assert base["EPR"] == pytest.approx(1.0, abs=0.3)
        assert base["AUPRC_ratio"] == pytest.approx(1.0, abs=0.2)
        assert base["AUROC"] == pytest.approx(0.5, abs=0.03)
    beeline_base = random_baseline(ref, genes, convention="beeline", n_repeats=1)
    assert beeline_base["n_candidates_all_pairs"] > beeline_base["n_candidates"]


def test_random_baseline_reproducible():
    genes, ref, _ = _random_instance()
    a = random_baseline(ref, genes, n_repeats=2, random_state=3)
    b = random_baseline(ref, genes, n_repeats=2, random_state=3)
    assert a == b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deepsem_matches_brute_force(seed):
    genes, ref, rng = _random_instance(seed=seed)
    # coarse weights -> many ties, so the stable tie-break is exercised
    w = np.round(rng.normal(size=(30, 30)), 1).astype(np.float32)
    res = evaluate_grn(w, ref, var_names=genes, convention="deepsem")
    cands, edges, y, s = _brute_scores(w, genes, ref)
    k = sum(c in edges for c in cands)
    top = sorted(range(len(cands)), key=lambda i: -s[i])[:k]  # Python sort is stable
    ep = sum(cands[i] in edges for i in top) / k
    density = k / len(cands)
    assert res["k"] == k and res["n_candidates"] == len(cands)
    assert res["EP"] == pytest.approx(ep)
    assert res["EPR"] == pytest.approx(ep / density)
    assert res["AUPRC"] == pytest.approx(average_precision_score(y, s))
    assert res["AUPRC_ratio"] == pytest.approx(average_precision_score(y, s) / density)
    assert res["AUROC"] == pytest.approx(roc_auc_score(y, s))


@pytest.mark.parametrize("seed", [0, 3])
def test_beeline_matches_brute_force(seed):
    genes, ref, rng = _random_instance(seed=seed)
    w = np.round(rng.normal(size=(30, 30)), 1).astype(np.float32)
    w[rng.random((30, 30)) < 0.3] = 0.0
    res = evaluate_grn(w, ref, var_names=genes, convention="beeline")
    # EP with ties at the cut-off, zeros never predicted (BEELINE computeEarlyPrec)
    cands, edges, y, s = _brute_scores(w, genes, ref)
    k = int(y.sum())
    kth = sorted(s, reverse=True)[k - 1]
    predicted = [c for c, v in zip(cands, s) if v >= kth and v != 0]
    ep = sum(c in edges for c in predicted) / len(predicted)
    assert res["EP"] == pytest.approx(ep)
    assert res["EPR"] == pytest.approx(ep / (k / len(cands)))
    assert res["n_candidates"] == len(cands) and res["k"] == k
    # AUPRC / AUROC over all ordered pairs of reference genes
    cands_all, _, y_all, s_all = _brute_scores(w, genes, ref, all_pairs=True)
    prec, rec, _ = precision_recall_curve(y_all, s_all)
    assert res["n_candidates_all_pairs"] == len(cands_all)
    assert res["density_all_pairs"] == pytest.approx(y_all.mean())
    assert res["AUPRC"] == pytest.approx(auc(rec, prec))
    assert res["AUPRC_ratio"] == pytest.approx(auc(rec, prec) / y_all.mean())
    assert res["AUROC"] == pytest.approx(roc_auc_score(y_all, s_all))


def test_beeline_ties_included_in_ep():
    genes = ["a", "b", "c", "d"]
    ref = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "d"]})
    # TF universe: a -> b, c, d and b -> a, c, d (6 candidates, k = 3)
    i = {g: n for n, g in enumerate(genes)}
    w = np.zeros((4, 4), dtype=np.float32)
    w[i["a"], i["b"]] = 2.0  # true
    w[i["a"], i["d"]] = w[i["b"], i["a"]] = w[i["b"], i["c"]] = 1.0  # false, tied
    w[i["b"], i["d"]] = -1.0  # true, tied (|weight|)
    beeline = evaluate_grn(w, ref, var_names=genes, convention="beeline")
    assert beeline["k"] == 3 and beeline["n_candidates"] == 6
    assert beeline["EP"] == pytest.approx(2 / 5)  # a->b plus all four tied at the cut-off
    assert beeline["EPR"] == pytest.approx((2 / 5) / (3 / 6))
    deepsem = evaluate_grn(w, ref, var_names=genes, convention="deepsem")
    assert deepsem["EP"] == pytest.approx(1 / 3)  # stable row-major order: a->b, a->d, b->a
    # zero weights are never predicted by the beeline convention
    w0 = np.zeros((4, 4), dtype=np.float32)
    w0[i["a"], i["d"]] = 1.0
    assert evaluate_grn(w0, ref, var_names=genes, convention="beeline")["EP"] == 0.0
    w0[i["a"], i["b"]] = 1.0
    assert evaluate_grn(w0, ref, var_names=genes, convention="beeline")["EP"] == 0.5
    assert early_precision([1, 0, 1], [0.0, 0.0, 0.0], include_ties=True) == 0.0


def test_negative_weights_ranked_by_absolute_value():
    genes, ref, _ = _random_instance()
    perfect = _adjacency(ref, genes)
    res = evaluate_grn(-perfect, ref, var_names=genes)
    assert res["AUROC"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------
# evaluate_grn: inputs
# ---------------------------------------------------------------------------


def test_reference_cleaning_and_beeline_columns():
    genes, ref, rng = _random_instance()
    w = rng.normal(size=(30, 30)).astype(np.float32)
    base = evaluate_grn(w, ref, var_names=genes)
    noisy = pd.concat(
        [ref, ref.iloc[:5], pd.DataFrame({"source": ["g1", "g2"], "target": ["g1", "g2"]})],
        ignore_index=True,
    )
    noisy["score"] = 1.0  # extra columns ignored
    assert evaluate_grn(w, noisy, var_names=genes) == base
    beeline_ref = ref.rename(columns={"source": "Gene1", "target": "Gene2"})
    beeline_ref["Type"] = "+"
    assert evaluate_grn(w, beeline_ref, var_names=genes) == base


def test_missing_reference_genes_warn_and_all_missing_raises():
    genes, ref, rng = _random_instance()
    w = rng.normal(size=(30, 30)).astype(np.float32)
    extra = pd.DataFrame({"source": ["g0", "XX"], "target": ["YY", "g1"]})
    with pytest.warns(UserWarning, match=r"2 of \d+ reference edges") as rec:
        res = evaluate_grn(w, pd.concat([ref, extra]), var_names=genes)
    assert rec[0].filename == __file__  # stacklevel points at the caller
    assert res == evaluate_grn(w, ref, var_names=genes)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="No reference edge"):
        evaluate_grn(w, pd.DataFrame({"source": ["XX"], "target": ["YY"]}), var_names=genes)


def test_bad_inputs_raise():
    genes, ref, rng = _random_instance()
    w = rng.normal(size=(30, 30)).astype(np.float32)
    with pytest.raises(ValueError, match="deepsem.*beeline"):
        evaluate_grn(w, ref, var_names=genes, convention="dream5")
    with pytest.raises(ValueError, match="square"):
        evaluate_grn(w[:, :29], ref, var_names=genes)
    with pytest.raises(ValueError, match="var_names is required"):
        evaluate_grn(w, ref)
    with pytest.raises(ValueError, match="29 entries"):
        evaluate_grn(w, ref, var_names=genes[:29])
    with pytest.raises(ValueError, match="source"):
        evaluate_grn(w, ref.rename(columns={"source": "from"}), var_names=genes)
    w_nan = w.copy()
    w_nan[:] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate_grn(w_nan, ref, var_names=genes)


def test_anndata_input_and_missing_key():
    genes, ref, rng = _random_instance()
    w = rng.normal(size=(30, 30)).astype(np.float32)
    adata = ad.AnnData(np.zeros((3, 30), dtype=np.float32), var=pd.DataFrame(index=genes))
    adata.varp["deepsem"] = w
    adata.varp["other"] = w
    assert evaluate_grn(adata, ref) == evaluate_grn(w, ref, var_names=genes)
    with pytest.raises(KeyError, match="deepsem.*other|available varp keys"):
        evaluate_grn(adata, ref, key="missing")
    try:
        evaluate_grn(adata, ref, key="missing")
    except KeyError as err:
        assert "'deepsem'" in str(err) and "'other'" in str(err)


@pytest.mark.parametrize("convention", ["deepsem", "beeline"])
def test_long_dataframe_matches_matrix(convention):
    genes, ref, rng = _random_instance()
    w = np.round(rng.normal(size=(30, 30)), 1).astype(np.float32)
    w[rng.random((30, 30)) < 0.5] = 0.0
    i, j = np.nonzero(w)
    long = pd.DataFrame({"source": genes[i], "target": genes[j], "weight": w[i, j]})
    long = long.sample(frac=1.0, random_state=0)  # row order must not matter
    expected = evaluate_grn(w, ref, var_names=genes, convention=convention)
    got = evaluate_grn(long, ref, var_names=genes, convention=convention)
    assert got == pytest.approx(expected)
    wide = pd.DataFrame(w, index=genes, columns=genes)
    assert evaluate_grn(wide, ref, convention=convention) == pytest.approx(expected)
    with pytest.raises(ValueError, match="duplicated"):
        evaluate_grn(pd.concat([long, long.iloc[:1]]), ref, var_names=genes)


# ---------------------------------------------------------------------------
# low-level array metrics
# ---------------------------------------------------------------------------


def test_low_level_functions_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.1
    s = np.round(rng.random(500), 2)  # ties
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s))
    prec, rec, _ = precision_recall_curve(y, s)
    assert auprc(y, s, method="trapezoid") == pytest.approx(auc(rec, prec))
    assert auprc_ratio(y, s) == pytest.approx(average_precision_score(y, s) / y.mean())
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    k = int(y.sum())
    order = np.argsort(-s, kind="stable")
    assert early_precision(y, s) == pytest.approx(y[order[:k]].mean())
    assert epr(y, s) == pytest.approx(y[order[:k]].mean() / y.mean())
    assert early_precision(y, s, k=10) == pytest.approx(y[order[:10]].mean())


def test_low_level_validation():
    with pytest.raises(ValueError, match="same length"):
        early_precision([1, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="no positive"):
        epr([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="method"):
        auprc([1, 0], [0.1, 0.2], method="interpolated")
    with pytest.raises(ValueError, match="k must be"):
        early_precision([1, 0], [0.1, 0.2], k=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(auroc([1, 1], [0.1, 0.2]))


# ---------------------------------------------------------------------------
# sparse GRNs: the same metrics as the densified matrix
# ---------------------------------------------------------------------------


def _sparse_instance(seed=0):
    """Reference plus a GRN with entries only in some rows (as a sparse deepsem GRN) and ties."""
    genes, ref, rng = _random_instance(seed=seed)
    w = np.round(rng.normal(size=(30, 30)), 1).astype(np.float32)
    w[rng.random((30, 30)) < 0.5] = 0
    regulators = np.isin(genes, ref["source"]) | (rng.random(30) < 0.3)
    w[~regulators] = 0
    return genes, ref, w


@pytest.mark.parametrize("convention", ["deepsem", "beeline"])
@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_grn_matches_dense(convention, seed):
    genes, ref, w = _sparse_instance(seed)
    expected = evaluate_grn(w, ref, var_names=genes, convention=convention)
    for fmt in (sparse.csr_matrix, sparse.csc_matrix, sparse.coo_matrix, sparse.csr_array):
        assert evaluate_grn(fmt(w), ref, var_names=genes, convention=convention) == expected
    adata = ad.AnnData(np.zeros((3, 30), dtype=np.float32), var=pd.DataFrame(index=genes))
    adata.varp["deepsem"] = sparse.csr_matrix(w)
    assert evaluate_grn(adata, ref, convention=convention) == expected


def test_sparse_grn_other_metrics_match_dense():
    from scgrn.metrics import precision_recall_at_k, top_edge_overlap

    genes, ref, w = _sparse_instance(2)
    s = sparse.csr_matrix(w)
    assert precision_recall_at_k(s, ref, var_names=genes) == precision_recall_at_k(w, ref, var_names=genes)
    w2 = np.round(np.random.default_rng(9).normal(size=w.shape), 1).astype(np.float32)
    regulators = np.flatnonzero(np.isin(genes, ref["source"]))
    for regs in (None, regulators):
        expected = top_edge_overlap(w, w2, top=(0.01, 0.1, 0.5), regulators=regs)
        got = top_edge_overlap(s, sparse.csc_matrix(w2), top=(0.01, 0.1, 0.5), regulators=regs)
        pd.testing.assert_frame_equal(got, expected)


def test_sparse_grn_checks():
    genes, ref, w = _sparse_instance(3)
    s = sparse.csr_matrix(w)
    with pytest.raises(ValueError, match="sparse matrix itself"):
        evaluate_grn(np.asarray(s), ref, var_names=genes)
    with pytest.raises(ValueError, match="square"):
        evaluate_grn(s[:, :29], ref, var_names=genes)
    with pytest.raises(ValueError, match="29 entries"):
        evaluate_grn(s, ref, var_names=genes[:29])
    w_nan = w.copy()
    w_nan[genes.tolist().index(ref["source"].iloc[0]), genes.tolist().index(ref["target"].iloc[0])] = np.nan
    s_nan = sparse.csr_matrix(w_nan)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_grn(s_nan, ref, var_names=genes, convention="beeline")
