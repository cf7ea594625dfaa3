"""common/stats.py: the parity statistics give the right verdicts and the right numbers.

Numbers are checked against scipy.stats.ttest_ind (Welch) computed independently here,
verdicts against samples built with a known mean and spread. Any warning is an error.
"""
import ast
import json
import math
import pathlib
import warnings

import numpy as np
import pytest
from scipy import stats as st

from common import stats

pytestmark = pytest.mark.filterwarnings("error")

SIGMA = 0.01  # seed-to-seed spread of an accuracy-like metric


def shaped(n, mean, sd, seed):
    """n values with exactly this mean and sample standard deviation (ddof=1)."""
    z = np.random.default_rng(seed).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


def plain(value):
    """Only types json writes as they are (numpy scalars would pass json.dumps as float subclasses)."""
    if isinstance(value, dict):
        return all(type(k) is str and plain(v) for k, v in value.items())
    return type(value) in (float, int, bool, str, type(None)) and not (type(value) is float and not math.isfinite(value))


def scipy_welch(a, b):
    result = st.ttest_ind(a, b, equal_var=False)
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    return result, se


# -- verdicts on samples with a known answer ----------------------------------------------

def test_identical_samples_are_equivalent():
    a = [0.981, 0.979, 0.983, 0.977, 0.985]
    sd = float(np.std(a, ddof=1))
    result = stats.parity(a, list(a), tolerance=1.5 * sd)
    assert result["verdict"] == "equivalent"
    assert result["difference"] == 0.0
    assert result["ci_low"] == pytest.approx(-result["ci_high"]) and result["ci_high"] > 0
    assert result["p_value"] == pytest.approx(1.0)
    assert result["p_equivalence"] < 0.05
    assert result["seeds_to_decide"] is None and result["passed"] is True
    # The same samples with half the margin cannot show equivalence with 5 seeds.
    narrow = stats.parity(a, list(a), tolerance=0.5 * sd)
    assert narrow["verdict"] == "undecided" and narrow["p_equivalence"] > 0.05


def test_three_sigma_shift_with_smaller_tolerance_is_different():
    a, b = shaped(8, 0.98, SIGMA, 1), shaped(8, 0.98 - 3 * SIGMA, SIGMA, 2)
    result = stats.parity(a, b, tolerance=SIGMA)
    assert result["difference"] == pytest.approx(3 * SIGMA)
    assert result["p_value"] < 0.01 and result["p_equivalence"] > 0.5
    assert result["verdict"] == "different"
    assert result["seeds_to_decide"] is None and result["passed"] is False
    assert stats.parity(b, a, tolerance=SIGMA)["verdict"] == "different"  # either sign


def test_hair_shift_is_equivalent_with_a_wide_margin_and_undecided_with_a_tiny_one():
    a, b = shaped(8, 0.98, SIGMA, 3), shaped(8, 0.98 - 0.01 * SIGMA, SIGMA, 4)
    wide = stats.parity(a, b, tolerance=2 * SIGMA)
    assert wide["verdict"] == "equivalent" and wide["p_equivalence"] < 0.01
    tiny = stats.parity(a, b, tolerance=0.01 * SIGMA)
    assert tiny["verdict"] == "undecided"
    assert tiny["p_equivalence"] >= 0.05 and tiny["p_value"] > 0.9
    assert type(tiny["seeds_to_decide"]) is int and tiny["seeds_to_decide"] > 8
    assert tiny["seeds_to_decide_by"] in ("equivalence", "difference")


@pytest.mark.parametrize("d, tolerance, by", [
    (0.1 * SIGMA, 1.0 * SIGMA, "equivalence"),  # well inside the margin: TOST will get there first
    (1.0 * SIGMA, 1.05 * SIGMA, "difference"),  # at the margin: only the difference test can decide
    (1.0 * SIGMA, None, "difference"),
])
def test_seeds_to_decide_is_enough_and_not_wasteful(d, tolerance, by):
    """With seeds_to_decide seeds of the observed mean and spread the comparison is decided;
    with a third of them it is not (so the estimate is neither too small nor far too large)."""
    a, b = shaped(4, 0.98, SIGMA, 5), shaped(4, 0.98 - d, SIGMA, 6)
    result = stats.parity(a, b, tolerance)
    assert result["verdict"] == "undecided" and result["seeds_to_decide_by"] == by
    n = result["seeds_to_decide"]
    assert 4 < n < stats.MAX_SEEDS
    decided = "equivalent" if by == "equivalence" else "different"
    assert stats.parity(shaped(n, 0.98, SIGMA, 7), shaped(n, 0.98 - d, SIGMA, 8), tolerance)["verdict"] == decided
    few = max(2, n // 3)
    assert stats.parity(shaped(few, 0.98, SIGMA, 9), shaped(few, 0.98 - d, SIGMA, 10), tolerance)["verdict"] == "undecided"


def difference_test_power(n, d, sd, alpha):
    """Exact power of the two-sided t-test with n per group (noncentral t)."""
    df, se = 2 * n - 2, sd * math.sqrt(2 / n)
    critical = st.t.ppf(1 - alpha / 2, df)
    return st.nct.sf(critical, df, d / se) + st.nct.cdf(-critical, df, d / se)


def tost_power(n, d, sd, tolerance, alpha):
    """Power of TOST with n per group: 1 - P(lower test fails) - P(upper test fails) (noncentral t)."""
    df, se = 2 * n - 2, sd * math.sqrt(2 / n)
    critical = st.t.ppf(1 - alpha, df)
    return 1 - st.nct.cdf(critical, df, (tolerance + d) / se) - st.nct.cdf(critical, df, (tolerance - d) / se)


@pytest.mark.parametrize("d, tolerance, tight", [
    (0.0, SIGMA, True),  # the TOST formula is for a true difference of 0: power 0.8 there
    (0.1 * SIGMA, SIGMA, False),  # and conservative otherwise
    (SIGMA, 1.05 * SIGMA, True),
    (SIGMA, None, True),
    (0.5 * SIGMA, None, True),
])
def test_seeds_to_decide_has_the_promised_power(d, tolerance, tight):
    """Independently of the normal/t approximation: the exact power at seeds_to_decide is about 0.8."""
    result = stats.parity(shaped(4, 0.98, SIGMA, 5), shaped(4, 0.98 - d, SIGMA, 6), tolerance)
    n = result["seeds_to_decide"]
    if result["seeds_to_decide_by"] == "equivalence":
        power = lambda n: tost_power(n, d, SIGMA, tolerance, 0.05)  # noqa: E731
    else:
        power = lambda n: difference_test_power(n, d, SIGMA, 0.01)  # noqa: E731
    assert 0.79 <= power(n) <= (0.83 if tight else 0.95)
    if tight:
        assert power(n - 1) < stats.POWER


def test_seeds_to_decide_is_capped():
    a = shaped(5, 0.98, SIGMA, 11)
    result = stats.parity(a, a - 1e-4 * SIGMA, tolerance=None)  # a difference no sane number of seeds shows
    assert result["verdict"] == "undecided" and result["seeds_to_decide"] == stats.MAX_SEEDS


# -- numbers against scipy ----------------------------------------------------------------

CASES = [  # (n_a, mean_a, sd_a, n_b, mean_b, sd_b): equal and unequal sizes and spreads, several scales
    (3, 0.981, 0.002, 3, 0.978, 0.0015),
    (5, 4.50, 0.20, 8, 4.70, 0.05),
    (8, 24.1, 0.3, 4, 24.0, 0.9),
    (2, 0.50, 0.01, 6, 0.52, 0.03),
]


@pytest.mark.parametrize("case", CASES)
def test_welch_matches_scipy(case):
    n_a, mean_a, sd_a, n_b, mean_b, sd_b = case
    a, b = shaped(n_a, mean_a, sd_a, 20), shaped(n_b, mean_b, sd_b, 21)
    reference, se = scipy_welch(a, b)
    result = stats.welch(a, b)
    assert result["difference"] == pytest.approx(np.mean(a) - np.mean(b), rel=1e-12)
    assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert result["df"] == pytest.approx(reference.df, rel=1e-9)
    assert result["standard_error"] == pytest.approx(se, rel=1e-9)
    assert result["ci_low"] < result["difference"] < result["ci_high"]
    assert result["ci_high"] - result["ci_low"] == pytest.approx(2 * st.t.ppf(0.975, reference.df) * se, rel=1e-9)
    low, high = reference.confidence_interval(0.95)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((low, high), rel=1e-9)
    ninety = stats.welch(a, b, confidence=0.90)
    assert (ninety["ci_low"], ninety["ci_high"]) == pytest.approx(tuple(reference.confidence_interval(0.90)), rel=1e-9)
    assert stats.parity(a, b, None)["p_value"] == result["p_value"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("tolerance_in_se", [0.5, 1.5, 2.5, 4.0])
def test_tost_is_two_one_sided_welch_tests(case, tolerance_in_se):
    n_a, mean_a, sd_a, n_b, mean_b, sd_b = case
    a, b = shaped(n_a, mean_a, sd_a, 30), shaped(n_b, mean_b, sd_b, 31)
    _, se = scipy_welch(a, b)
    tolerance = abs(np.mean(a) - np.mean(b)) + tolerance_in_se * se
    above_lower = st.ttest_ind(a + tolerance, b, equal_var=False, alternative="greater").pvalue
    below_upper = st.ttest_ind(a - tolerance, b, equal_var=False, alternative="less").pvalue
    p = stats.tost(a, b, tolerance)
    assert p == pytest.approx(max(above_lower, below_upper), rel=1e-7)
    result = stats.parity(a, b, tolerance)
    assert result["p_equivalence"] == p
    # TOST at alpha is the (1 - 2 alpha) confidence interval lying inside the margins.
    ninety = stats.welch(a, b, confidence=0.90)
    inside = -tolerance < ninety["ci_low"] and ninety["ci_high"] < tolerance
    assert (p < 0.05) == inside
    assert (result["verdict"] == "equivalent") == inside


def test_verdict_order_equivalence_first():
    """A real but tiny difference, shown to be inside the margin, is equivalent, not different."""
    a, b = shaped(20, 0.98, 0.0001, 40), shaped(20, 0.979, 0.0001, 41)
    result = stats.parity(a, b, tolerance=0.02)
    assert result["p_value"] < 0.01 and result["p_equivalence"] < 0.05
    assert result["verdict"] == "equivalent"


# -- edge cases ---------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, tolerance, verdict", [
    ([0.98] * 3, [0.98] * 3, 0.02, "equivalent"),  # deterministic and identical
    ([0.1] * 7, [0.1] * 7, 0.02, "equivalent"),  # a mean with rounding must not invent a spread
    ([0.98] * 3, [0.97] * 3, 0.02, "equivalent"),  # exact difference inside the margin
    ([0.98] * 3, [0.95] * 3, 0.02, "different"),  # exact difference beyond it
    ([0.97] * 3, [0.99] * 3, 0.01, "different"),
    ([1.0] * 3, [0.5] * 3, 0.5, "different"),  # exactly on the margin is not inside it
    ([0.98] * 3, [0.98] * 3, None, "undecided"),  # nothing to reject, and more seeds change nothing
    ([0.98] * 3, [0.97] * 3, None, "different"),
])
def test_zero_variance(a, b, tolerance, verdict):
    result = stats.parity(a, b, tolerance)
    assert result["verdict"] == verdict
    d = a[0] - b[0]
    assert result["difference"] == d
    assert result["standard_error"] == 0.0 and result["df"] is None
    assert result["ci_low"] == result["ci_high"] == d
    assert result["p_value"] == (0.0 if d != 0 else 1.0)
    assert result["seeds_to_decide"] is None
    if tolerance is not None:
        assert result["p_equivalence"] == (0.0 if abs(d) < tolerance else 1.0)
        assert stats.tost(a, b, tolerance) == result["p_equivalence"]
    assert plain(result)


def test_zero_variance_in_one_sample_is_ordinary_welch():
    a, b = [0.98] * 4, shaped(6, 0.975, SIGMA, 50)
    result = stats.welch(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about the constant sample
        reference, se = scipy_welch(np.array(a), b)
    assert result["df"] == pytest.approx(5.0) and result["df"] == pytest.approx(reference.df)
    assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert result["standard_error"] == pytest.approx(se, rel=1e-9)


@pytest.mark.parametrize("a, b", [([0.98], [0.97, 0.99]), ([0.98, 0.97], [0.99]), ([0.98], [0.98]), ([0.98], [0.5])])
@pytest.mark.parametrize("tolerance", [0.02, None])
def test_fewer_than_two_values_cannot_be_tested(a, b, tolerance):
    result = stats.parity(a, b, tolerance)
    assert result["difference"] == pytest.approx(np.mean(a) - np.mean(b))
    for key in ("ci_low", "ci_high", "p_value", "df", "standard_error", "p_equivalence", "seeds_to_decide"):
        assert result[key] is None, key
    assert result["verdict"] == "undecided"
    assert result["passed"] == (None if tolerance is None else abs(result["difference"]) <= tolerance)
    assert stats.tost(a, b, 0.02) is None
    assert plain(result)


def test_without_a_tolerance_the_difference_test_decides_alone():
    a = shaped(8, 0.98, SIGMA, 60)
    far = stats.parity(a, shaped(8, 0.98 - 3 * SIGMA, SIGMA, 61), None)
    near = stats.parity(a, shaped(8, 0.98 - 0.01 * SIGMA, SIGMA, 62), None)
    assert far["verdict"] == "different" and near["verdict"] == "undecided"  # never "equivalent"
    for result in (far, near):
        assert result["tolerance"] is None and result["p_equivalence"] is None and result["passed"] is None
    assert near["seeds_to_decide_by"] == "difference" and near["seeds_to_decide"] > 8


@pytest.mark.parametrize("call", [
    lambda: stats.parity([], [1.0, 2.0], 0.1),
    lambda: stats.parity([1.0, float("nan")], [1.0, 2.0], 0.1),
    lambda: stats.parity([1.0, 2.0], [1.0, float("inf")], 0.1),
    lambda: stats.parity([1.0, 2.0], [1.0, 2.0], -0.1),
    lambda: stats.tost([1.0, 2.0], [1.0, 2.0], None),
    lambda: stats.welch([1.0, 2.0], [1.0, 2.0], confidence=95),
    lambda: stats.parity([1.0, 2.0], [1.0, 2.0], 0.1, alpha_equivalence=0.0),
])
def test_bad_input_is_refused(call):
    with pytest.raises(ValueError):
        call()


# -- output -------------------------------------------------------------------------------

def all_results():
    a = shaped(5, 0.98, SIGMA, 70)
    samples = [
        (a, shaped(5, 0.98, SIGMA, 71)), (a, shaped(3, 0.95, 0.02, 72)), (a, a + 1e-4 * SIGMA),
        ([0.98] * 3, [0.98] * 3), ([0.98] * 3, [0.90] * 3), ([0.98], [0.97, 0.99]), ([4.5, 4.7, 4.2], [4.9, 5.3, 4.4]),
    ]
    for x, y in samples:
        for tolerance in (0.02, 0.5, 1e-6, None):
            yield stats.parity(x, y, tolerance)
            yield stats.welch(x, y)


def test_every_result_is_plain_json():
    results = list(all_results())
    assert {result.get("verdict") for result in results} >= {"equivalent", "different", "undecided"}
    for result in results:
        assert plain(result), result
        assert json.loads(json.dumps(result, allow_nan=False)) == result
    a, b = np.array([0.981, 0.979, 0.983]), np.array([0.978, 0.980, 0.977])
    assert type(stats.tost(a, b, np.float64(0.02))) is float


def test_format_parity_names_the_verdict():
    a = [0.981, 0.979, 0.983]
    equivalent = stats.format_parity(stats.parity(a, [0.978, 0.980, 0.977], 0.02), "accuracy")
    assert equivalent[0].startswith("parity of accuracy: keras - tf = +0.0027, 95% CI [-0.0015, +0.0068]")
    assert "TOST vs ±0.02 p = " in equivalent[0] and equivalent[0].endswith(": equivalent")
    undecided = stats.parity(a, [0.978, 0.980, 0.977], 0.002)
    lines = stats.format_parity(undecided, "accuracy")
    assert lines[0].endswith(": undecided")
    assert f"about {undecided['seeds_to_decide']} seeds per implementation" in lines[1]
    different = stats.format_parity(stats.parity([24.1, 24.3, 23.9], [26.1, 26.2, 26.0], 0.5), "neg_elbo")
    assert "keras - tf = -2.0000" in different[0] and different[0].endswith(": different")
    none = stats.format_parity(stats.parity(a, [0.978, 0.980, 0.977], None), "accuracy")
    assert "no tolerance registered" in none[0] and none[0].endswith(": undecided")
    single = stats.format_parity(stats.parity([0.98], [0.97, 0.99], 0.02), "accuracy")
    assert "at least 2 seeds" in single[0] and single[0].endswith(": undecided")
    exact = stats.format_parity(stats.parity([0.98] * 3, [0.97] * 3, 0.02), "accuracy")
    assert exact[0].endswith(": equivalent") and "no spread" in exact[1]
    capped = stats.format_parity(stats.parity(a, np.array(a) - 1e-6, None), "accuracy")
    assert f"{stats.MAX_SEEDS} or more seeds" in capped[1]
    for result in all_results():
        if "verdict" in result:
            lines = stats.format_parity(result, "metric")
            assert all(type(line) is str for line in lines)
            assert result["verdict"] in lines[0]


def test_stats_imports_neither_keras_nor_tensorflow():
    source = (pathlib.Path(stats.__file__)).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"math", "numpy", "scipy"}, imported
