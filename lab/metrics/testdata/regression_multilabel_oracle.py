#!/usr/bin/env python3
"""Reference values for lab/metrics' regression and multi-label metrics.

Reads {"regression": [{"y_true": [...], "y_pred": [...]}, ...],
"multilabel": [{"y_true": [[0|1, ...], ...], "scores": [[s, ...], ...],
"threshold": t, "digits": n | null}, ...]} on stdin and writes
{"sklearn_version": v, "scipy_version": v, "regression": [...],
"multilabel": [...]} on stdout, one result per case.

Numbers may be written as the strings "nan", "inf" and "-inf" (JSON has no
such numbers), and results use the same strings for non-finite values.

Regression: mean_squared_error, root_mean_squared_error, mean_absolute_error,
r2_score (scikit-learn) and scipy.stats.pearsonr and spearmanr statistics.
Multi-label: y_pred = scores > threshold, the scores as float32 (the threshold
a Python float, so numpy compares in float32); accuracy_score (subset accuracy),
hamming_loss, precision_recall_fscore_support with average=None, micro,
macro, weighted and samples, and classification_report(digits=digits) when
digits is set. Each value is the result or {"error": msg} when the library
raises; "warned" lists which of precision, recall and f1 scikit-learn
reported as ill-defined.
"""
import json
import math
import multiprocessing
import os
import sys
import warnings

import numpy as np
import scipy
import sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    hamming_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    root_mean_squared_error,
)

WARNED = (("Precision is", "precision"), ("Recall is", "recall"), ("F-score is", "f1"))


def number(x):
    x = float(x)
    return x if math.isfinite(x) else str(x)


def guarded(fn):
    """Runs fn, returning its value (or {"error": msg}) and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except ValueError as e:
            return {"error": str(e)}, caught
    return value, caught


def regression(case):
    y_true = np.array([float(v) for v in case["y_true"]])
    y_pred = np.array([float(v) for v in case["y_pred"]])
    out = {}
    for name, fn in (
        ("mse", mean_squared_error),
        ("rmse", root_mean_squared_error),
        ("mae", mean_absolute_error),
        ("r2", r2_score),
        ("pearson", lambda t, p: pearsonr(t, p).statistic),
        ("spearman", lambda t, p: spearmanr(t, p).statistic),
    ):
        value, _ = guarded(lambda: number(fn(y_true, y_pred)))
        out[name] = value
    return out


def prf(y_true, y_pred, average):
    def run():
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=average)
        if average is None:
            return {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()}
        return {"precision": p, "recall": r, "f1": f}

    value, caught = guarded(run)
    if "error" not in value:
        warned = set()
        for w in caught:
            if issubclass(w.category, UndefinedMetricWarning):
                for prefix, name in WARNED:
                    if str(w.message).startswith(prefix):
                        warned.add(name)
        value["warned"] = sorted(warned)
    return value


def multilabel(case):
    y_true = np.array(case["y_true"], dtype=int)
    y_pred = (np.array(case["scores"], dtype=np.float32) > case["threshold"]).astype(int)
    out = {"y_pred": y_pred.tolist()}
    out["subset_accuracy"], _ = guarded(lambda: accuracy_score(y_true, y_pred))
    out["hamming_loss"], _ = guarded(lambda: hamming_loss(y_true, y_pred))
    out["per_label"] = prf(y_true, y_pred, None)
    for average in ("micro", "macro", "weighted", "samples"):
        out[average] = prf(y_true, y_pred, average)
    if case["digits"] is not None:
        names = case["labels"]
        out["report"], _ = guarded(
            lambda: classification_report(y_true, y_pred, target_names=names, digits=case["digits"])
        )
    return out


def one(kind_case):
    kind, case = kind_case
    return regression(case) if kind == "regression" else multilabel(case)


def init():
    # The inputs are well formed; sklearn's per-call argument checks would dominate the run time.
    sklearn.set_config(skip_parameter_validation=True)


def main():
    cases = json.load(sys.stdin)
    work = [("regression", c) for c in cases["regression"]] + [("multilabel", c) for c in cases["multilabel"]]
    with multiprocessing.Pool(min(os.cpu_count() or 1, 8), initializer=init) as pool:
        results = pool.map(one, work, chunksize=16)
    n = len(cases["regression"])
    json.dump(
        {
            "sklearn_version": sklearn.__version__,
            "scipy_version": scipy.__version__,
            "regression": results[:n],
            "multilabel": results[n:],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
