"""Reference for lab/metrics' Bootstrap: scipy.stats.bootstrap(method="percentile"), paired, as
Hugging Face Evaluate's "bootstrap" strategy calls it, on the resamples the Go test drew.

Reads {"y_true", "y_pred_a", "y_pred_b", "classes", "resamples", "confidence"} on stdin (class
ids; resamples: rows of indices) and writes, for each statistic, [low, high, value]. scipy draws
its resamples with rng.integers(0, n, (n_resamples, n)); a generator whose integers() returns
the given rows makes it use exactly those.
"""
import json, sys

import numpy as np
import scipy
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score


class GivenResamples(np.random.Generator):
    def __init__(self, rows):
        super().__init__(np.random.PCG64(0))
        self.rows = rows

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        if tuple(size) != self.rows.shape or low != 0 or high != self.rows.shape[1]:
            raise ValueError(f"scipy asked for integers({low}, {high}, {size}), not the {self.rows.shape} given resamples")
        return self.rows


case = json.load(sys.stdin)
y, a, b = (np.array(case[k]) for k in ("y_true", "y_pred_a", "y_pred_b"))
rows = np.array(case["resamples"])
labels = list(range(case["classes"]))
statistics = {
    "accuracy": lambda y, a, b: accuracy_score(y, a),
    "f1": lambda y, a, b: f1_score(y, a, pos_label=1, average="binary", labels=[0, 1], zero_division=0) if len(labels) == 2 else np.nan,
    "macro_f1": lambda y, a, b: f1_score(y, a, labels=labels, average="macro", zero_division=0),
    "accuracy_difference": lambda y, a, b: accuracy_score(y, a) - accuracy_score(y, b),
}
out = {"scipy_version": scipy.__version__}
for name, statistic in statistics.items():
    if name == "f1" and len(labels) != 2:
        continue
    res = stats.bootstrap((y, a, b), statistic, paired=True, vectorized=False, method="percentile",
                          confidence_level=case["confidence"], n_resamples=len(rows), rng=GivenResamples(rows))
    out[name] = [float(res.confidence_interval.low), float(res.confidence_interval.high), float(statistic(y, a, b))]
json.dump(out, sys.stdout)
