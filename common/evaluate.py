"""Metrics from numpy arrays: the neutral judge of both implementations.

Neither implementation scores itself. Each hands over its raw outputs (logits) on the
test split, and the same code here turns them into numbers.
"""
import math

import numpy as np
from sklearn import metrics as sk_metrics


def probabilities(logits):
    """Class probabilities from logits: sigmoid for one output column, softmax otherwise."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 2 and logits.shape[1] == 1:  # binary: one logit for class 1
        p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def classification(y_true, logits):
    """accuracy and log-loss of logits against integer labels."""
    y_true = np.asarray(y_true)
    probs = probabilities(logits)
    if not np.all(np.isfinite(probs)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    labels = np.arange(probs.shape[1])
    return {
        "accuracy": float(sk_metrics.accuracy_score(y_true, probs.argmax(axis=1))),
        "log_loss": float(sk_metrics.log_loss(y_true, probs, labels=labels)),
    }


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; training stops rather than writing garbage."""


def check_finite(value, what, epoch):
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"{what} became {value} in epoch {epoch + 1}; try a lower --learning-rate (no results were written)"
        )


# --- generative evaluation (reconstruction, ELBO, sample quality) ---
