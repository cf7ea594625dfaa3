"""Statistics for `twinnets compare`: are two implementations' metrics the same?

`compare` trains each implementation (a = Keras, b = raw TF) over K seeds and gets two
samples of a metric, e.g. accuracies a = [0.981, 0.979, 0.983] and b = [0.978, 0.980,
0.977]. Looking at |mean(a) - mean(b)| <= tolerance alone ignores how much the metric
moves from seed to seed: with 3 noisy seeds a small gap proves little, and a large gap
may be noise. This module makes the claim statistical. Pure numpy + scipy.stats.

Notation: n_a, n_b sample sizes; m_a, m_b means; v_a, v_b unbiased (ddof=1) variances;
d = m_a - m_b (the `difference`).

Welch's t (Welch 1947): the two samples may have different variances.
    standard_error  se = sqrt(v_a / n_a + v_b / n_b)
    Welch-Satterthwaite degrees of freedom
        df = se^4 / ((v_a/n_a)^2 / (n_a - 1) + (v_b/n_b)^2 / (n_b - 1))
    confidence interval  d -/+ t_{(1+c)/2, df} * se          (c = confidence, 0.95)
    difference test  H0: the means are equal; t = d / se; p = 2 P(T_df >= |t|).
    These match scipy.stats.ttest_ind(a, b, equal_var=False).

A difference test can only ever say "different": failing to reject H0 is not evidence of
sameness (with few or noisy seeds it fails to reject almost anything). To *claim* parity
we need a test whose null hypothesis is "they differ by at least the tolerance":

TOST, two one-sided tests (Schuirmann 1987), margin tol (the registry's tolerance):
    H0: |true difference| >= tol;   H1: -tol < true difference < tol.
    Two one-sided Welch t-tests with the same se and df:
        p_lower = P(T_df >= (d + tol) / se)    (against the null difference <= -tol)
        p_upper = P(T_df <= (d - tol) / se)    (against the null difference >= +tol)
    p_equivalence = max(p_lower, p_upper). Equivalence is concluded when it is < alpha
    (0.05), which is the same as the 90% (1 - 2 alpha) confidence interval lying inside
    (-tol, +tol). These equal the one-sided scipy.stats.ttest_ind(a + tol, b,
    alternative="greater") and ttest_ind(a - tol, b, alternative="less") p-values.

Verdict of `parity` (in this order):
    "equivalent"  TOST rejects at alpha_equivalence (0.05): the difference is shown to be
                  within the tolerance. Checked first: a real but tiny difference that is
                  also shown to be within the tolerance is "equivalent".
    "different"   the difference test rejects at alpha_difference (0.01): there is a real
                  difference between the implementations, and it is not shown to be within
                  the tolerance (its point estimate may still be inside it: `passed`).
    "undecided"   neither: too few seeds, or too much seed-to-seed noise, to say.
`passed` (|d| <= tol) is kept for compatibility with the old check; it is not a test.

Seeds needed (`seeds_to_decide`, only for an "undecided" verdict): an estimate of how
many seeds per implementation would decide the comparison if the true difference and the
spread were what we observed. With the pooled standard deviation
    s^2 = ((n_a - 1) v_a + (n_b - 1) v_b) / (n_a + n_b - 2)
and equal group sizes n, the usual normal approximations (power 1 - beta = 0.8) are
    equivalence (TOST at alpha):   n = 2 (z_{1-alpha} + z_{1-beta/2})^2 s^2 / (tol - |d|)^2
        (the z_{1-beta/2} form is exact for a true difference of 0 and conservative
        otherwise)
    difference (two-sided at alpha): n = 2 (z_{1-alpha/2} + z_{1-beta})^2 s^2 / d^2.
Each is then refined with t quantiles at df = 2n - 2 by fixed-point iteration (a few
steps), rounded up. The smaller of the two is reported, with the test it belongs to in
`seeds_to_decide_by`: the equivalence test when |d| is well inside the tolerance (below
roughly half of it at the default alphas), the difference test when |d| is close to or
beyond it (or when there is no tolerance). It is at least one more seed than is already
run, and capped at MAX_SEEDS (1000, meaning "1000 or more": e.g. d = 0 with no tolerance,
or |d| = tol, which no number of seeds decides). It is a planning estimate from noisy
inputs (s and d from a few seeds), not a guarantee.

Edge cases (all values returned are plain float / int / str / bool / None, so the dicts
go into JSON as they are; no NaN, no infinity, no warnings):
    * Zero variance in both samples (deterministic runs): the difference is known exactly,
      se = 0, df = None, the CI is [d, d]. The p-values are the limits of the tests with no
      noise: difference test p = 0 if d != 0 else 1; TOST p = 0 if |d| < tol else 1. So
      identical values, or values differing by less than the tolerance, are "equivalent";
      different constants with |d| >= tol are "different". A sample whose values are all
      equal is treated as exactly constant (variance 0, mean = that value), so rounding in
      the mean cannot invent a tiny spread. Zero variance in only one sample is ordinary
      Welch (df = n_other - 1).
    * Fewer than 2 values in either sample: no variance estimate, so no test. The
      difference and `passed` are reported; ci_low, ci_high, p_value, df, standard_error,
      p_equivalence are None; the verdict is "undecided" and seeds_to_decide is None (even
      when the values happen to be equal: one run cannot show it is deterministic).
    * tolerance None (no tolerance registered for the metric): no TOST (p_equivalence
      None, `passed` None); the verdict comes from the difference test alone: "different"
      or "undecided", never "equivalent".
    * Undecided with zero spread (only possible with tolerance None or 0 and d = 0): more
      seeds of a deterministic run change nothing, so seeds_to_decide is None.
    * Empty samples, non-finite values, a negative tolerance, a confidence or alpha
      outside (0, 1): ValueError.

References:
    B. L. Welch (1947), "The generalization of 'Student's' problem when several different
        population variances are involved", Biometrika 34(1/2): 28-35.
    D. J. Schuirmann (1987), "A comparison of the two one-sided tests procedure and the
        power approach for assessing the equivalence of average bioavailability", Journal
        of Pharmacokinetics and Biopharmaceutics 15(6): 657-680.
"""
import math

import numpy as np
from scipy import stats as _stats

POWER = 0.8  # 1 - beta, for seeds_to_decide
MAX_SEEDS = 1000  # cap of seeds_to_decide ("this many or more")
VERDICTS = ("equivalent", "different", "undecided")


# -- samples and the Welch pieces ---------------------------------------------------------

def _sample(values, name):
    sample = np.asarray(values, dtype=float).ravel()
    if sample.size == 0:
        raise ValueError(f"sample {name} is empty")
    if not np.all(np.isfinite(sample)):
        raise ValueError(f"sample {name} has non-finite values: {sample.tolist()}")
    return sample


def _moments(sample):
    """Mean and unbiased variance; exactly (value, 0.0) when every value is the same."""
    if np.all(sample == sample[0]):
        return float(sample[0]), 0.0
    return float(np.mean(sample)), float(np.var(sample, ddof=1))


def _check_probability(value, name):
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")


def _pieces(a, b):
    """d, se, df, n_a, n_b, v_a, v_b. se and df are None with fewer than 2 values in a sample;
    se is 0.0 and df None when both samples are constant."""
    a, b = _sample(a, "a"), _sample(b, "b")
    mean_a, var_a = _moments(a)
    mean_b, var_b = _moments(b)
    d = mean_a - mean_b
    n_a, n_b = int(a.size), int(b.size)
    if n_a < 2 or n_b < 2:
        return d, None, None, n_a, n_b, None, None
    q_a, q_b = var_a / n_a, var_b / n_b
    se2 = q_a + q_b
    if se2 == 0.0:
        return d, 0.0, None, n_a, n_b, var_a, var_b
    share = q_a / se2  # written with shares of se^2 so that tiny variances cannot underflow
    df = 1.0 / (share ** 2 / (n_a - 1) + (1.0 - share) ** 2 / (n_b - 1))
    return d, math.sqrt(se2), df, n_a, n_b, var_a, var_b


def _p_at_least(excess, se, df):
    """One-sided p: P(T_df >= excess / se); with se = 0 the degenerate limit (0 if excess > 0 else 1)."""
    if se == 0.0:
        return 0.0 if excess > 0 else 1.0
    return float(_stats.t.sf(excess / se, df))


def _p_two_sided(d, se, df):
    if se == 0.0:
        return 0.0 if d != 0 else 1.0
    return min(1.0, 2.0 * float(_stats.t.sf(abs(d) / se, df)))


def _p_tost(d, se, df, tolerance):
    lower = _p_at_least(d + tolerance, se, df)  # against true difference <= -tolerance
    upper = _p_at_least(tolerance - d, se, df)  # against true difference >= +tolerance
    return max(lower, upper)


def _check_tolerance(tolerance):
    if tolerance is None:
        raise ValueError("tost needs a tolerance")
    tolerance = float(tolerance)
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    return tolerance


# -- public API ---------------------------------------------------------------------------

def welch(a, b, confidence=0.95):
    """Welch's t for mean(a) - mean(b): dict with difference, ci_low, ci_high, p_value (two-sided,
    H0: no difference), df (Welch-Satterthwaite), standard_error, confidence, n_a, n_b.

    With fewer than 2 values in a sample every entry but difference, confidence, n_a, n_b is
    None; with both samples constant se = 0, df None, CI [d, d] and p 0 (d != 0) or 1 (d = 0).
    """
    _check_probability(confidence, "confidence")
    return _welch(_pieces(a, b), confidence)


def _welch(pieces, confidence):
    d, se, df, n_a, n_b, _, _ = pieces
    result = {
        "difference": float(d), "ci_low": None, "ci_high": None, "p_value": None, "df": None,
        "standard_error": None, "confidence": float(confidence), "n_a": n_a, "n_b": n_b,
    }
    if se is None:
        return result
    half = 0.0 if se == 0.0 else float(_stats.t.ppf((1.0 + confidence) / 2.0, df)) * se
    result.update(
        ci_low=float(d - half), ci_high=float(d + half), p_value=_p_two_sided(d, se, df),
        df=None if df is None else float(df), standard_error=float(se),
    )
    return result


def tost(a, b, tolerance):
    """p-value of the TOST equivalence test of mean(a) - mean(b) against the margins +-tolerance
    (two one-sided Welch t-tests; p = the larger of the two). Equivalence when p < alpha (0.05).

    None with fewer than 2 values in a sample. Both samples constant: 0.0 if |d| < tolerance
    else 1.0.
    """
    tolerance = _check_tolerance(tolerance)
    d, se, df, *_ = _pieces(a, b)
    if se is None:
        return None
    return float(_p_tost(d, se, df, tolerance))


def _seeds_for(delta, sd, alpha, quantile):
    """Seeds per group for 2 (q_{1-alpha} + q_{quantile})^2 sd^2 / delta^2 (normal, then t with
    df = 2n - 2); math.inf when delta <= 0 or beyond MAX_SEEDS."""
    if delta <= 0:
        return math.inf
    ratio = (sd / delta) ** 2
    n = 2.0 * (_stats.norm.ppf(1.0 - alpha) + _stats.norm.ppf(quantile)) ** 2 * ratio
    for _ in range(50):
        if n > MAX_SEEDS:
            return math.inf
        df = max(2.0 * n - 2.0, 1.0)
        updated = 2.0 * (_stats.t.ppf(1.0 - alpha, df) + _stats.t.ppf(quantile, df)) ** 2 * ratio
        settled = abs(updated - n) < 1e-6
        n = updated
        if settled:
            break
    return math.inf if n > MAX_SEEDS else n


def parity(a, b, tolerance, alpha_equivalence=0.05, alpha_difference=0.01, confidence=0.95):
    """Is mean(a) the same as mean(b) to within `tolerance`? The verdict and the numbers behind it.

    Returns everything from `welch` (with the `confidence` CI) plus:
        tolerance, p_equivalence (TOST; None without a tolerance or with < 2 values in a sample),
        alpha_equivalence, alpha_difference,
        verdict: "equivalent" if p_equivalence < alpha_equivalence (checked first), else
            "different" if p_value < alpha_difference, else "undecided",
        seeds_to_decide: for "undecided" only, seeds per implementation that would likely
            (power 0.8) decide it if the observed difference and pooled spread are the truth:
            the smaller of the TOST and difference-test sample sizes (normal approximation
            refined with t quantiles; see the module docstring), at least one more than now,
            capped at MAX_SEEDS (1000 means "1000 or more"). None when decided, with < 2
            values in a sample, or with no spread at all.
        seeds_to_decide_by: "equivalence" or "difference" (the test that estimate is for) or None,
        passed: |difference| <= tolerance (None without a tolerance), the old check.
    """
    _check_probability(alpha_equivalence, "alpha_equivalence")
    _check_probability(alpha_difference, "alpha_difference")
    _check_probability(confidence, "confidence")
    if tolerance is not None:
        tolerance = _check_tolerance(tolerance)
    pieces = _pieces(a, b)
    d, se, df, n_a, n_b, var_a, var_b = pieces
    result = _welch(pieces, confidence)
    p_equivalence = None if tolerance is None or se is None else float(_p_tost(d, se, df, tolerance))
    p_value = result["p_value"]
    if p_equivalence is not None and p_equivalence < alpha_equivalence:
        verdict = "equivalent"
    elif p_value is not None and p_value < alpha_difference:
        verdict = "different"
    else:
        verdict = "undecided"
    seeds, seeds_by = None, None
    if verdict == "undecided" and se is not None and se > 0.0:
        sd = math.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))
        candidates = {"difference": _seeds_for(abs(d), sd, alpha_difference / 2.0, POWER)}
        if tolerance is not None:  # listed second: on a tie the difference test is named
            candidates["equivalence"] = _seeds_for(tolerance - abs(d), sd, alpha_equivalence,
                                                   1.0 - (1.0 - POWER) / 2.0)
        seeds_by = min(candidates, key=candidates.get)
        needed = candidates[seeds_by]
        seeds = MAX_SEEDS if math.isinf(needed) else min(MAX_SEEDS, max(math.ceil(needed), max(n_a, n_b) + 1))
        seeds = int(seeds)
    result.update(
        tolerance=tolerance,
        p_equivalence=p_equivalence,
        alpha_equivalence=float(alpha_equivalence),
        alpha_difference=float(alpha_difference),
        verdict=verdict,
        seeds_to_decide=seeds,
        seeds_to_decide_by=seeds_by,
        passed=None if tolerance is None else bool(abs(d) <= tolerance),
    )
    return result


# -- printing -----------------------------------------------------------------------------

def _decimals(*values):
    """Decimals for numbers printed side by side: 4, or more so the largest shows 2 significant digits."""
    scale = max((abs(v) for v in values if v is not None and v != 0), default=0.0)
    if scale == 0.0 or scale >= 1e-3:
        return 4
    return min(12, 1 - math.floor(math.log10(scale)))


def _p(p):
    if p == 0.0:
        return "p = 0"  # zero spread: the difference is exact
    if p < 1e-4:
        return "p < 0.0001"
    return f"p = {p:.2g}"


def format_parity(parity, metric_name, labels=("keras", "tf")):
    """Human-readable lines for the printed table from a `parity` dict, e.g.

    parity of accuracy: keras - tf = +0.0019, 95% CI [-0.0041, +0.0079]; difference test p = 0.43;
    TOST vs ±0.02 p = 0.003: equivalent
    """
    d, low, high, tolerance = parity["difference"], parity["ci_low"], parity["ci_high"], parity["tolerance"]
    places = _decimals(d, low, high)
    head = f"parity of {metric_name}: {labels[0]} - {labels[1]} = {d:+.{places}f}"
    verdict = parity["verdict"]
    if parity["p_value"] is None:
        return [f"{head}; at least 2 seeds per implementation are needed for a confidence interval "
                f"and tests (got {parity['n_a']} and {parity['n_b']}): {verdict}"]
    parts = [
        f"{head}, {parity['confidence']:.0%} CI [{low:+.{places}f}, {high:+.{places}f}]",
        f"difference test {_p(parity['p_value'])}",
    ]
    if tolerance is None:
        parts.append("no tolerance registered, so no equivalence test")
    else:
        parts.append(f"TOST vs ±{tolerance:g} {_p(parity['p_equivalence'])}")
    lines = ["; ".join(parts) + f": {verdict}"]
    if parity["standard_error"] == 0.0:
        lines.append("  (no spread: each implementation gave the same value on every seed, so the difference is exact)")
    seeds = parity.get("seeds_to_decide")
    if verdict == "undecided" and seeds is not None:
        test = {"equivalence": "the equivalence test", "difference": "the difference test"}[parity["seeds_to_decide_by"]]
        amount = f"{seeds} or more" if seeds >= MAX_SEEDS else f"about {seeds}"
        lines.append(f"  ({amount} seeds per implementation would likely decide it, by {test})")
    return lines
