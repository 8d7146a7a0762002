#!/usr/bin/env python3
"""Reference values for lab/metrics from scikit-learn.

Reads {"cases": [{"y_true": [...], "y_pred": [...], "labels": [...] | null,
"pos_label": L | null, "averages": [...], "normalize": [...], "digits": n | null},
...]} on stdin (labels are all strings or all integers) and writes
{"sklearn_version": v, "results": [...]} on stdout, one result per case:
accuracy_score; precision_recall_fscore_support with average=None, with each
average listed and, when pos_label is set, with average="binary";
confusion_matrix without and with each normalize= listed; and, when digits is
set, classification_report(digits=digits). A case asks only for some of these
because each scikit-learn call costs milliseconds of argument checking.
Each value is either the scikit-learn result or {"error": msg} when
scikit-learn raises. Warnings are recorded, not printed: "warned" lists which of
precision, recall and f1 scikit-learn reported as ill-defined.
"""
import json
import multiprocessing
import os
import sys
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
)

WARNED = (("Precision is", "precision"), ("Recall is", "recall"), ("F-score is", "f1"))


def guarded(fn):
    """Runs fn, returning its value and the ill-defined metrics it warned about."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except ValueError as e:
            return {"error": str(e)}, []
    warned = set()
    for w in caught:
        if issubclass(w.category, UndefinedMetricWarning):
            for prefix, name in WARNED:
                if str(w.message).startswith(prefix):
                    warned.add(name)
    return value, sorted(warned)


def prf(case, average, labels, pos_label=1):
    def run():
        p, r, f, s = precision_recall_fscore_support(
            case["y_true"], case["y_pred"], labels=labels, average=average, pos_label=pos_label
        )
        if average is None:
            return {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()}
        return {"precision": p, "recall": r, "f1": f}

    value, warned = guarded(run)
    if "error" not in value:
        value["warned"] = warned
    return value


def one(case):
    # Arrays, as a caller would pass them; converting once saves the per-call conversion.
    case["y_true"], case["y_pred"] = np.asarray(case["y_true"]), np.asarray(case["y_pred"])
    y_true, y_pred, labels = case["y_true"], case["y_pred"], case["labels"]
    out = {}
    out["accuracy"], _ = guarded(lambda: accuracy_score(y_true, y_pred))
    out["per_class"] = prf(case, None, labels)
    for average in case["averages"]:
        out[average] = prf(case, average, labels)
    if case.get("pos_label") is not None:
        out["binary"] = prf(case, "binary", None, case["pos_label"])
    cm = {}
    for normalize in [None] + case["normalize"]:
        value, _ = guarded(lambda: confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize).tolist())
        cm[normalize or "none"] = value
    out["confusion_matrix"] = cm
    if case["digits"] is not None:
        out["report"], _ = guarded(
            lambda: classification_report(y_true, y_pred, labels=labels, digits=case["digits"])
        )
    return out


def init():
    # The inputs are well formed; sklearn's per-call argument checks would dominate the run time.
    sklearn.set_config(skip_parameter_validation=True)


def main():
    cases = json.load(sys.stdin)["cases"]
    with multiprocessing.Pool(min(os.cpu_count() or 1, 8), initializer=init) as pool:
        results = pool.map(one, cases, chunksize=16)
    json.dump({"sklearn_version": sklearn.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
