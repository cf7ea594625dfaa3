"""Metrics from numpy arrays: the neutral judge of both implementations.

Neither implementation scores itself. Each hands over its raw outputs (logits) on the
test split, and the same code here turns them into numbers.
"""

import dataclasses
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


def regression(y_true, predictions, *, target_mean=0.0, target_std=1.0):
    """Scores of one real-valued output per example, in the targets' original units.

    Targets a model was trained on standardised, (y - target_mean) / target_std (common.data:
    DataInfo.target_mean, target_std), are mapped back first, y_true and predictions alike.
    r2 = 1 - sum((y - p)^2) / sum((y - mean(y))^2), the coefficient of determination (unit-free:
    1 is perfect, 0 is predicting the test mean; sklearn.metrics.r2_score's, with its convention
    for a constant y_true: 1.0 if predicted exactly, else 0.0); rmse = sqrt(mse), in y's units;
    `mse_mean_baseline` is what always predicting the mean of y_true would score (the variance
    of y_true): a model has learned something only below it.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1) * target_std + target_mean
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1) * target_std + target_mean  # (N, 1) -> (N,)
    if not np.all(np.isfinite(predictions)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    residual = float(np.sum((y_true - predictions) ** 2))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    mse = residual / len(y_true)
    return {
        "r2": 1.0 - residual / total if total > 0 else float(residual == 0.0),
        "rmse": float(np.sqrt(mse)),
        "mse": mse,
        "mse_mean_baseline": float(np.var(y_true)),
    }


def regression_baselines(x_train, y_train, x_test, y_test, *, target_mean=0.0, target_std=1.0):
    """What a regression is read against, scored as `regression` scores a model (r2_*, rmse_*):

    - linear: scikit-learn's LinearRegression (ordinary least squares, x flattened) fit on the
      training split, the model a nearly linear target (diabetes) is hard to beat with;
    - mean: the training targets' mean predicted for every example (R² about 0, a little below
      where the test mean differs from the training mean).
    """
    from sklearn.linear_model import LinearRegression

    flat = lambda x: np.asarray(x, dtype=np.float64).reshape(len(x), -1)  # noqa: E731  (N, ...) -> (N, features)
    y_train = np.asarray(y_train, dtype=np.float64).reshape(-1)
    linear = LinearRegression().fit(flat(x_train), y_train)
    scores = {}
    for name, predictions in (("linear", linear.predict(flat(x_test))), ("mean", np.full(len(y_test), y_train.mean()))):
        scored = regression(y_test, predictions, target_mean=target_mean, target_std=target_std)
        scores[f"r2_{name}"], scores[f"rmse_{name}"] = scored["r2"], scored["rmse"]
    return scores


def regression_scores(data, predictions):
    """What both implementations report for a regression: `regression` of their predictions on
    data.x_test and, beside them, the baselines fit on data's training split (common.data Data)."""
    scale = {"target_mean": data.info.target_mean, "target_std": data.info.target_std}
    scores = regression(data.y_test, predictions, **scale)
    scores.update(regression_baselines(data.x_train, data.y_train, data.x_test, data.y_test, **scale))
    return scores


def forecasting(y_true, predictions, windows, period=0):
    """Scores of H-step forecasts, in the series' own units, beside the naive forecasts (common/data/series.py).

    y_true, predictions: (N, H) the next H values and their forecasts; windows: (N, window) the past values
    each forecast was made from. Per horizon step h = 1..H: rmse_h<h> (over the N windows) and nrmse_h<h>;
    overall: rmse (over all N * H values) and nrmse = rmse / std of the test targets (np.std of all N * H
    values of y_true: the RMSE of always forecasting their mean; 1.0 is no better than that). Baselines:
    persistence (the window's last value repeated H times), persistence_rmse and persistence_rmse_h<h>; and,
    where a period P is given and P <= window, the seasonal-naive forecast (the value P steps before, or
    kP steps before for h > P: the last seen season repeated), seasonal_naive_rmse. The headline:
    rmse_over_persistence = rmse / persistence_rmse (below 1 beats persistence; 1/3 is three times lower).
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.float64).reshape(len(y_true), -1)  # (N, window, 1) -> (N, window)
    if not np.all(np.isfinite(predictions)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    horizon, window = y_true.shape[1], windows.shape[1]
    scale = float(np.std(y_true))
    per_step = lambda forecast: np.sqrt(np.mean((forecast - y_true) ** 2, axis=0))  # noqa: E731  (H,)
    overall = lambda forecast: float(np.sqrt(np.mean((forecast - y_true) ** 2)))  # noqa: E731
    persistence = np.repeat(windows[:, -1:], horizon, axis=1)  # (N, 1) -> (N, H)
    scores = {"rmse_over_persistence": overall(predictions) / overall(persistence), "rmse": overall(predictions),
              "nrmse": overall(predictions) / scale, "persistence_rmse": overall(persistence),
              "persistence_nrmse": overall(persistence) / scale}
    if period and period <= window:
        steps = np.arange(1, horizon + 1)
        back = window + steps - 1 - period * np.ceil(steps / period).astype(int)  # index into the window, per step
        seasonal = windows[:, back]  # (N, H)
        scores.update(seasonal_naive_rmse=overall(seasonal), rmse_over_seasonal_naive=overall(predictions) / overall(seasonal))
    for step, (model_rmse, naive_rmse) in enumerate(zip(per_step(predictions), per_step(persistence)), start=1):
        scores[f"rmse_h{step}"] = float(model_rmse)
        scores[f"nrmse_h{step}"] = float(model_rmse) / scale
        scores[f"persistence_rmse_h{step}"] = float(naive_rmse)
    return scores


SPARSE_BELOW = 1e-3  # a weight with |w| below this counts as zero in weight_sparsity


def weight_sparsity(weights, threshold=SPARSE_BELOW):
    """The share of kernel weights with |w| < threshold: how many connections an L1 penalty has switched off.

    weights: a model's get_weights() (Keras order; either implementation). Kernels are the arrays of
    two or more dimensions (dense (in, out), conv (kh, kw, in, out)); biases and other vectors are left
    out, so the share answers "how many connections are (nearly) gone".
    """
    kernels = [np.asarray(w) for w in weights if np.ndim(w) >= 2]
    if not kernels:
        raise ValueError("no kernels (arrays of two or more dimensions) among the weights")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    small = sum(int(np.count_nonzero(np.abs(kernel) < threshold)) for kernel in kernels)
    return small / sum(kernel.size for kernel in kernels)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite, or exploded; training stops rather than writing garbage."""


# A loss "explodes" when the epoch's running mean passes EXPLOSION_FACTOR x its value at the
# first step of the run (the untrained model's, about ln K for K classes), or x 1 when that start
# is below 1. Both implementations check the same quantity after every step: the running mean
# fit reports. A learning rate of 1e12 drives an mlp's loss to ~1e25, finite, so a NaN check
# alone would let it "finish" at chance; a healthy run never comes near 1e4 x its start.
EXPLOSION_FACTOR = 1e4


def explosion_limit(start):
    """The largest running-mean loss allowed, given the loss at the run's first step."""
    return EXPLOSION_FACTOR * max(abs(float(start)), 1.0)


def is_divergent(value, start):
    """True for a running-mean loss that is NaN, infinite, or past the explosion limit."""
    value = float(value)
    return not math.isfinite(value) or (math.isfinite(float(start)) and abs(value) > explosion_limit(start))


def diverged(value, step, epoch, start):
    """The error both implementations raise when the running-mean loss `value` diverges (step and epoch from 1)."""
    value = float(value)
    if math.isfinite(value):
        what = (f"exploded to {value:.3g} (more than {EXPLOSION_FACTOR:,.0f}x its value at the first step, "
                f"{float(start):.3g})")
    else:
        what = f"became {value}"
    return TrainingDiverged(
        f"the training loss {what} at step {step} of epoch {epoch}; "
        "try a lower --learning-rate (no results were written; earlier checkpoints are kept)"
    )


# --- generative evaluation (reconstruction, ELBO, sample quality) ---
#
# The implementations hand over numpy functions (encode, decode, generate) or their
# outputs; the noise that makes a VAE or GAN metric random is drawn *here*, from a fixed
# seed, so both implementations are scored on the same draws.

EVAL_SEED = 1234  # the evaluation's own noise: VAE reparameterisation draws, GAN latents, noise images


def evaluation_noise(shape, seed=EVAL_SEED):
    """Standard normal draws, the same for every run and both implementations."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _flat(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)  # (N, H, W, C) -> (N, H*W*C)


def _require_finite(array, what):
    if not np.all(np.isfinite(array)):
        raise FloatingPointError(f"the model's {what} contain NaN or infinite values")


def mean_image_mse(x_train, x):
    """The trivial reconstruction: predict the mean training image for every input."""
    return float(np.mean((_flat(x) - _flat(x_train).mean(axis=0)) ** 2))


def reconstruction(x, reconstructed, x_train):
    """Test reconstruction MSE (mean over pixels and images), and the mean-image baseline."""
    _require_finite(reconstructed, "reconstructions")
    return {
        "mse": float(np.mean((_flat(x) - _flat(reconstructed)) ** 2)),
        "mse_mean_image": mean_image_mse(x_train, x),
    }


def bernoulli_nll(x, logits):
    """Per-image sum over pixels of sigmoid cross-entropy(logits, x): -log p(x | z) for grey levels in [0, 1]."""
    x, logits = _flat(x), _flat(logits)
    per_pixel = np.maximum(logits, 0.0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    return per_pixel.sum(axis=1)


def gaussian_kl(mean, log_var):
    """Per-example KL(N(mean, exp(log_var)) || N(0, I)) = 0.5 * sum(exp(lv) + mean^2 - 1 - lv)."""
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=1)


def elbo(x, encode, decode, x_train):
    """The VAE's test scores, one reparameterised draw per image from the evaluation's noise.

    encode(x) -> (mean, log_var), decode(z) -> pixel logits: numpy in, numpy out.
    neg_elbo = reconstruction + kl, in nats per image; mse is the squared error of the
    decoded *mean* code, comparable with the autoencoder's. The baseline neg_elbo_mean_image
    is what a VAE that ignores z reaches at best: the cross-entropy of the mean training
    image, with no KL cost.
    """
    mean, log_var = (np.asarray(a, np.float32) for a in encode(x))
    _require_finite(mean, "latent means")
    _require_finite(log_var, "latent log-variances")
    z = mean + np.exp(0.5 * log_var) * evaluation_noise(mean.shape)  # reparameterisation
    logits = np.asarray(decode(z))
    _require_finite(logits, "decoder logits")
    reconstruction_nats = bernoulli_nll(x, logits).mean()
    kl = gaussian_kl(mean, log_var).mean()
    pixel_mean = np.clip(_flat(x_train).mean(axis=0), 1e-6, 1 - 1e-6)
    mean_image_logits = np.log(pixel_mean) - np.log1p(-pixel_mean)
    reconstructed = 1.0 / (1.0 + np.exp(-_flat(decode(mean))))
    return {
        "neg_elbo": float(reconstruction_nats + kl),
        "reconstruction": float(reconstruction_nats),
        "kl": float(kl),
        "mse": float(np.mean((_flat(x) - reconstructed) ** 2)),
        "neg_elbo_mean_image": float(bernoulli_nll(x, np.broadcast_to(mean_image_logits, _flat(x).shape)).mean()),
        "mse_mean_image": mean_image_mse(x_train, x),
    }


def latent_2d(codes):
    """A 2-D view of latent codes: the codes themselves if 2-D, else their first two principal components."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.shape[1] <= 2:
        return codes if codes.shape[1] == 2 else np.concatenate([codes, np.zeros_like(codes)], axis=1)
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=0).fit_transform(codes)


def frechet_distance(features_a, features_b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussian fits (Heusel et al. 2017).

    Tr((S_a S_b)^(1/2)) is computed as the sum of square roots of the eigenvalues of the
    symmetric S_a^(1/2) S_b S_a^(1/2), which has the same spectrum: stable when a
    covariance is singular (a feature that never fires), where scipy's sqrtm warns.
    """
    features_a, features_b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    sigma_a, sigma_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    values, vectors = np.linalg.eigh(sigma_a)
    root_a = (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T  # S_a^(1/2)
    product = np.linalg.eigvalsh(root_a @ sigma_b @ root_a)
    trace_root = np.sum(np.sqrt(np.maximum(product, 0.0)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_root)


class SampleJudge:
    """A fixed judge of generated digits that neither implementation owns, fitted on the real training digits.

    - Features: a small scikit-learn MLP classifier (one hidden layer of 64 ReLU units,
      random_state 0); its hidden activations are the feature space of a Fréchet distance
      to the training digits (the idea of FID, with this classifier in place of Inception).
    - Confidence: a multinomial logistic regression's mean top-class probability. A linear
      model is used here because it stays calibrated off the data: the MLP is as confident
      on uniform noise as on many real digits, the logistic regression is not.
    - class_entropy: entropy of the mean predicted class distribution (ln 10 = 2.30 when
      samples spread evenly over the ten digits; low under mode collapse).
    """

    HIDDEN_UNITS = 64

    def __init__(self, x_train, y_train):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier

        pixels, labels = _flat(x_train), np.asarray(y_train)
        self.features_model = MLPClassifier(
            hidden_layer_sizes=(self.HIDDEN_UNITS,), alpha=1e-3, learning_rate_init=3e-3, max_iter=100, random_state=0
        )
        self.confidence_model = LogisticRegression(C=1.0, max_iter=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.features_model.fit(pixels, labels)
            self.confidence_model.fit(pixels, labels)
        self.reference = self.features(x_train)

    def features(self, x):
        hidden = _flat(x) @ self.features_model.coefs_[0] + self.features_model.intercepts_[0]
        return np.maximum(hidden, 0.0)  # (N, 64) ReLU activations

    def accuracy(self, images, labels):
        """The share of images the MLP classifier assigns to `labels`: a conditional generator's accuracy."""
        _require_finite(images, "samples")
        return float(np.mean(self.features_model.predict(_flat(images)) == np.asarray(labels)))

    def score(self, images):
        _require_finite(images, "samples")
        probs = self.confidence_model.predict_proba(_flat(images))
        mean_prediction = probs.mean(axis=0)
        return {
            "frechet_distance": frechet_distance(self.features(images), self.reference),
            "classifier_confidence": float(probs.max(axis=1).mean()),
            "class_entropy": float(-np.sum(mean_prediction * np.log(np.maximum(mean_prediction, 1e-12)))),
        }


_JUDGES = {}


def sample_judge(x_train, y_train):
    """The judge for this training set, fitted once per process (fitting takes about a second)."""
    import hashlib

    key = hashlib.sha1(np.ascontiguousarray(x_train).tobytes() + np.ascontiguousarray(y_train).tobytes()).hexdigest()
    if key not in _JUDGES:
        _JUDGES[key] = SampleJudge(x_train, y_train)
    return _JUDGES[key]


def noise_images(n, shape, seed=EVAL_SEED):
    """Uniform noise in [0, 1]: the worst reasonable 'generator'."""
    return np.random.default_rng(seed).uniform(size=(n, *shape)).astype(np.float32)


def sample_quality(samples, x_train, y_train, x_heldout):
    """Score generated images against the real training digits, with the two readings that frame the number.

    fd_heldout_real: held-out real digits against the training digits, the best reachable;
    fd_noise: uniform noise images, the worst. Pass as many samples as held-out digits,
    since the Fréchet distance's bias depends on the sample size.
    """
    judge = sample_judge(x_train, y_train)
    scores = judge.score(samples)
    real = judge.score(x_heldout)
    noise = judge.score(noise_images(len(x_heldout), x_heldout.shape[1:]))
    scores.update(
        fd_heldout_real=real["frechet_distance"],
        fd_noise=noise["frechet_distance"],
        confidence_heldout_real=real["classifier_confidence"],
        confidence_noise=noise["classifier_confidence"],
    )
    return scores


def conditional_labels(num_classes, n_heldout):
    """The classes a conditional generator is asked for when it is scored: ceil(n_heldout / num_classes)
    of each class, in order (digits: 36 of each of the ten, as many images as held-out digits)."""
    return np.repeat(np.arange(num_classes), -(-n_heldout // num_classes))


def conditional_sample_quality(samples, labels, x_train, y_train, x_heldout, y_heldout):
    """sample_quality, plus how often the judge's MLP classifier sees the class each sample was asked for.

    conditional_accuracy: the share of samples classified as their `labels` (1.0 at best; a generator
    that ignores its label scores about 1/classes); accuracy_heldout_real: the same classifier on
    held-out real digits, the most a generator can expect of it.
    """
    judge = sample_judge(x_train, y_train)
    scores = sample_quality(samples, x_train, y_train, x_heldout)
    scores.update(conditional_accuracy=judge.accuracy(samples, labels),
                  accuracy_heldout_real=judge.accuracy(x_heldout, y_heldout))
    return scores


# --- energy models: the Bernoulli-Bernoulli RBM (rbm, dbn) ---
#
# An RBM over binary visible units v (n_visible) and hidden units h (n_hidden), parameters in Keras
# order: kernel W (n_visible, n_hidden), hidden_bias c (n_hidden,), visible_bias b (n_visible,).
#     E(v, h) = -v.b - h.c - v W h,     p(v, h) = exp(-E(v, h)) / Z
#     F(v) = -log sum_h exp(-E(v, h)) = -v.b - sum_j softplus((v W + c)_j)     (free energy)
#     log p(v) = -F(v) - log Z
# Everything here is numpy in float64; neither implementation scores itself.

EXACT_HIDDEN_LIMIT = 20  # up to 2^20 hidden configurations are summed over exactly; beyond, AIS
HIDDEN_CHUNK = 2**14  # hidden configurations per chunk of the exact sum: (16384, n_visible) float64 at a time
AIS_CHAINS = 100  # annealed importance sampling runs (Salakhutdinov & Murray 2008 used 100)
AIS_BETAS = 10_000  # intermediate distributions (S&M: 14,500), spaced as theirs: see ais_betas


def _softplus(x):
    return np.logaddexp(0.0, x)


def _rbm_parameters(kernel, hidden_bias, visible_bias):
    kernel, hidden_bias, visible_bias = (np.asarray(a, np.float64) for a in (kernel, hidden_bias, visible_bias))
    if kernel.ndim != 2 or hidden_bias.shape != kernel.shape[1:] or visible_bias.shape != kernel.shape[:1]:
        raise ValueError(f"RBM parameters of shapes {kernel.shape}, {hidden_bias.shape}, {visible_bias.shape}: "
                         "expected kernel (n_visible, n_hidden), hidden_bias (n_hidden,), visible_bias (n_visible,)")
    for name, array in (("kernel", kernel), ("hidden bias", hidden_bias), ("visible bias", visible_bias)):
        _require_finite(array, f"RBM {name}")
    return kernel, hidden_bias, visible_bias


def rbm_hidden_probs(v, kernel, hidden_bias, visible_bias=None):
    """p(h_j = 1 | v) = sigmoid(v W + c), (N, n_hidden)."""
    return 1.0 / (1.0 + np.exp(-(_flat(v) @ np.asarray(kernel, np.float64) + np.asarray(hidden_bias, np.float64))))


def rbm_visible_probs(h, kernel, visible_bias):
    """p(v_i = 1 | h) = sigmoid(h W^T + b), (N, n_visible)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(h, np.float64) @ np.asarray(kernel, np.float64).T
                                 + np.asarray(visible_bias, np.float64))))


def rbm_free_energy(v, kernel, hidden_bias, visible_bias):
    """F(v) = -v.b - sum_j softplus((v W + c)_j), one per example: (N,). scikit-learn's `_free_energy`."""
    kernel, hidden_bias, visible_bias = _rbm_parameters(kernel, hidden_bias, visible_bias)
    v = _flat(v)
    return -(v @ visible_bias) - _softplus(v @ kernel + hidden_bias).sum(axis=1)


def hidden_configurations(n_hidden, start, stop):
    """The binary hidden states numbered start..stop-1 (bit j of the number is h_j): (stop - start, n_hidden)."""
    numbers = np.arange(start, stop, dtype=np.int64)[:, None]
    return ((numbers >> np.arange(n_hidden, dtype=np.int64)) & 1).astype(np.float64)


def rbm_log_partition(kernel, hidden_bias, visible_bias):
    """log Z, exactly, for n_hidden <= EXACT_HIDDEN_LIMIT: summing v out analytically, h over all 2^n_hidden states,

        log Z = logsumexp over h of [ h.c + sum_i softplus(b_i + (W h)_i) ],

    in chunks of HIDDEN_CHUNK states, combined by a running log-sum-exp.
    """
    kernel, hidden_bias, visible_bias = _rbm_parameters(kernel, hidden_bias, visible_bias)
    n_hidden = kernel.shape[1]
    if n_hidden > EXACT_HIDDEN_LIMIT:
        raise ValueError(f"an exact log partition function sums over 2^{n_hidden} hidden states; at most "
                         f"2^{EXACT_HIDDEN_LIMIT} are summed here: use rbm_ais_log_partition")
    total = -np.inf
    for start in range(0, 2**n_hidden, HIDDEN_CHUNK):
        h = hidden_configurations(n_hidden, start, min(start + HIDDEN_CHUNK, 2**n_hidden))
        terms = h @ hidden_bias + _softplus(h @ kernel.T + visible_bias).sum(axis=1)  # (chunk,)
        total = np.logaddexp(total, np.logaddexp.reduce(terms))
    return float(total)


def ais_betas(count=AIS_BETAS):
    """Inverse temperatures 0 = beta_0 < ... < beta_K = 1, spaced as Salakhutdinov & Murray (2008): 500 of 14,500
    in [0, 0.5), 4,000 in [0.5, 0.9), 10,000 in [0.9, 1], here in the same proportions of `count`."""
    if count < 3:
        raise ValueError(f"AIS needs at least 3 inverse temperatures, got {count}")
    first, second = max(1, round(count * 500 / 14_500)), max(1, round(count * 4_000 / 14_500))
    third = count - first - second
    return np.concatenate([np.linspace(0.0, 0.5, first, endpoint=False), np.linspace(0.5, 0.9, second, endpoint=False),
                           np.linspace(0.9, 1.0, third)])


@dataclasses.dataclass(frozen=True)
class AISEstimate:
    """What annealed importance sampling gives: the estimate of log Z, its standard error (delta method on the
    mean importance weight), and each chain's log importance weight."""

    log_z: float
    stderr: float
    log_weights: np.ndarray


def rbm_ais(kernel, hidden_bias, visible_bias, *, chains=AIS_CHAINS, betas=AIS_BETAS, seed=EVAL_SEED,
            base_visible_bias=None):
    """Annealed importance sampling of log Z (Salakhutdinov & Murray 2008, "On the quantitative analysis of DBNs").

    From the base-rate RBM A (no weights, no hidden biases, visible biases `base_visible_bias`: the data's
    base rates, rbm_base_rate_bias, or zeros by default), whose log Z_A = sum_i softplus(bA_i) + n_hidden log 2,
    through the distributions
        p*_beta(v) = exp((1 - beta) v.bA + beta v.b) prod_j (1 + exp(beta (v W + c)_j))
    to the RBM (beta = 1). Each chain starts at an exact sample of A; at each beta_k it adds
    log p*_k(v) - log p*_{k-1}(v) to its log weight, then takes one Gibbs step that leaves p_k invariant:
    h ~ sigmoid(beta (v W + c)), v ~ sigmoid((1 - beta) bA + beta (b + W h)).
    log Z = log Z_A + log mean(weights). betas: a count (spaced by ais_betas) or the sequence itself.
    """
    kernel, hidden_bias, visible_bias = _rbm_parameters(kernel, hidden_bias, visible_bias)
    n_visible, n_hidden = kernel.shape
    base = np.zeros(n_visible) if base_visible_bias is None else np.asarray(base_visible_bias, np.float64)
    betas = ais_betas(betas) if np.isscalar(betas) else np.asarray(betas, np.float64)
    if betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError("AIS inverse temperatures must rise strictly from 0 to 1")
    rng = np.random.default_rng(seed)

    def log_p_star(v, beta):
        return (1.0 - beta) * (v @ base) + beta * (v @ visible_bias) + _softplus(beta * (v @ kernel + hidden_bias)).sum(1)

    log_z_base = float(_softplus(base).sum() + n_hidden * np.log(2.0))
    v = (rng.uniform(size=(chains, n_visible)) < 1.0 / (1.0 + np.exp(-base))).astype(np.float64)  # exact draws of A
    log_weights = np.zeros(chains)
    for previous, beta in zip(betas[:-1], betas[1:]):
        log_weights += log_p_star(v, beta) - log_p_star(v, previous)
        hidden = 1.0 / (1.0 + np.exp(-beta * (v @ kernel + hidden_bias)))
        h = (rng.uniform(size=hidden.shape) < hidden).astype(np.float64)
        visible = 1.0 / (1.0 + np.exp(-((1.0 - beta) * base + beta * (visible_bias + h @ kernel.T))))
        v = (rng.uniform(size=visible.shape) < visible).astype(np.float64)
    top = log_weights.max()
    weights = np.exp(log_weights - top)  # scaled by exp(-top): the ratio below does not see the scale
    mean = weights.mean()
    stderr = float(weights.std(ddof=1) / np.sqrt(chains) / mean) if chains > 1 else float("inf")
    return AISEstimate(log_z=float(log_z_base + top + np.log(mean)), stderr=stderr, log_weights=log_weights)


def rbm_ais_log_partition(kernel, hidden_bias, visible_bias, *, chains=AIS_CHAINS, betas=AIS_BETAS, seed=EVAL_SEED,
                          base_visible_bias=None):
    """log Z by annealed importance sampling (rbm_ais, which also gives its standard error)."""
    return rbm_ais(kernel, hidden_bias, visible_bias, chains=chains, betas=betas, seed=seed,
                   base_visible_bias=base_visible_bias).log_z


def rbm_base_rate_bias(x_train):
    """Visible biases of the independent-pixels model fitted to the training data: logit of each pixel's mean,
    smoothed as (ones + 1) / (examples + 2) so that a pixel never on in training keeps a finite bias."""
    x = _flat(x_train)
    p = (x.sum(axis=0) + 1.0) / (len(x) + 2.0)
    return np.log(p) - np.log1p(-p)


def independent_pixels_log_likelihood(v, x_train):
    """Mean log p(v) in nats of the independent-pixels baseline: each pixel Bernoulli with its smoothed training
    mean (rbm_base_rate_bias), the RBM with no hidden units. For binary v; what an RBM must beat."""
    bias = rbm_base_rate_bias(x_train)
    v = _flat(v)
    return float(np.mean(v @ bias - _softplus(bias).sum()))


def rbm_log_likelihood(v, kernel, hidden_bias, visible_bias, *, x_train=None, chains=None, betas=None, seed=EVAL_SEED):
    """Mean log p(v) in nats per example, and how log Z was found, as a dict:

    log_likelihood (mean of -F(v) - log Z), log_partition, method ("exact" for n_hidden <= EXACT_HIDDEN_LIMIT,
    else "ais"), log_partition_stderr (0 when exact; AIS's standard error of log Z, which is also the
    standard error of the log-likelihood). AIS starts from the base rates of x_train when given; chains and
    betas default to AIS_CHAINS and AIS_BETAS.
    """
    kernel, hidden_bias, visible_bias = _rbm_parameters(kernel, hidden_bias, visible_bias)
    if kernel.shape[1] <= EXACT_HIDDEN_LIMIT:
        log_z, stderr, method = rbm_log_partition(kernel, hidden_bias, visible_bias), 0.0, "exact"
    else:
        base = None if x_train is None else rbm_base_rate_bias(x_train)
        estimate = rbm_ais(kernel, hidden_bias, visible_bias, chains=chains or AIS_CHAINS, betas=betas or AIS_BETAS,
                           seed=seed, base_visible_bias=base)
        log_z, stderr, method = estimate.log_z, estimate.stderr, "ais"
    free_energy = rbm_free_energy(v, kernel, hidden_bias, visible_bias)
    _require_finite(free_energy, "free energies")
    return {"log_likelihood": float(np.mean(-free_energy) - log_z), "log_partition": log_z, "method": method,
            "log_partition_stderr": stderr}


def pseudo_likelihood_indices(examples, n_visible, seed=EVAL_SEED):
    """The unit flipped in each example, drawn as scikit-learn's BernoulliRBM.score_samples draws it with
    random_state=seed: RandomState(seed).randint(0, n_visible, examples)."""
    return np.random.RandomState(seed).randint(0, n_visible, examples)


def rbm_pseudo_likelihood(v, kernel, hidden_bias, visible_bias, indices=None, *, per_example=False):
    """scikit-learn's BernoulliRBM.score_samples: per example, n_visible * log sigmoid(F(v~) - F(v)), where v~ is v
    with the unit indices[n] flipped (a stochastic approximation of the log pseudo-likelihood, in nats).

    indices: (N,) ints (default: pseudo_likelihood_indices(N, n_visible)). The mean over examples, or with
    per_example the (N,) array itself.
    """
    v = _flat(v)
    if indices is None:
        indices = pseudo_likelihood_indices(len(v), v.shape[1])
    rows = np.arange(len(v))
    flipped = v.copy()
    flipped[rows, indices] = 1.0 - flipped[rows, indices]
    difference = rbm_free_energy(flipped, kernel, hidden_bias, visible_bias) - rbm_free_energy(
        v, kernel, hidden_bias, visible_bias)
    scores = -v.shape[1] * _softplus(-difference)  # n_visible * log sigmoid(difference)
    return scores if per_example else float(np.mean(scores))


def rbm_reconstruction_error(v, kernel, hidden_bias, visible_bias):
    """Mean over examples and units of (v - p(v | h = p(h | v)))^2: the mean-field reconstruction's squared error."""
    kernel, hidden_bias, visible_bias = _rbm_parameters(kernel, hidden_bias, visible_bias)
    reconstructed = rbm_visible_probs(rbm_hidden_probs(v, kernel, hidden_bias), kernel, visible_bias)
    return float(np.mean((_flat(v) - reconstructed) ** 2))


def rbm_scores(x_test, x_train, kernel, hidden_bias, visible_bias):
    """What an RBM run reports on binary test data, as numbers (the method of log Z is returned beside them):

    log_likelihood (nats per image, exact or AIS), log_partition and its standard error (0 when exact),
    pseudo_likelihood, reconstruction_error, and log_likelihood_independent_pixels, the baseline of
    independent pixels at their training means.
    """
    scored = rbm_log_likelihood(x_test, kernel, hidden_bias, visible_bias, x_train=x_train)
    method = scored.pop("method")
    scored.update(
        pseudo_likelihood=rbm_pseudo_likelihood(x_test, kernel, hidden_bias, visible_bias),
        reconstruction_error=rbm_reconstruction_error(x_test, kernel, hidden_bias, visible_bias),
        log_likelihood_independent_pixels=independent_pixels_log_likelihood(x_test, x_train),
    )
    return scored, method


# --- sequence to sequence (seq2seq): decoded texts against references ---


def edit_distance(reference, hypothesis):
    """Levenshtein distance between two strings: the fewest insertions, deletions and substitutions."""
    previous = list(range(len(hypothesis) + 1))
    for i, expected in enumerate(reference, start=1):
        current = [i]
        for j, produced in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (expected != produced)))
        previous = current
    return previous[-1]


def exact_match(references, hypotheses):
    """The share of hypotheses equal to their reference, character for character."""
    _same_count(references, hypotheses)
    return float(np.mean([r == h for r, h in zip(references, hypotheses)]))


def character_error_rate(references, hypotheses):
    """Corpus CER: the summed edit distances over the summed reference lengths (jiwer.cer's definition)."""
    _same_count(references, hypotheses)
    characters = sum(len(r) for r in references)
    if characters == 0:
        raise ValueError("the references hold no characters")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses)) / characters


def corpus_bleu(references, hypotheses):
    """Corpus BLEU (0-100) by sacrebleu, the standard implementation: its default 13a tokenisation, one reference."""
    import sacrebleu

    _same_count(references, hypotheses)
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def translation(references, hypotheses, bleu=False):
    """What a seq2seq run reports: exact_match, cer and, for sentences (bleu=True), corpus BLEU."""
    scores = {"exact_match": exact_match(references, hypotheses), "cer": character_error_rate(references, hypotheses)}
    if bleu:
        scores["bleu"] = corpus_bleu(references, hypotheses)
    return scores


def _same_count(references, hypotheses):
    if len(references) != len(hypotheses) or not len(references):
        raise ValueError(f"{len(references)} references and {len(hypotheses)} hypotheses: need the same, non-zero count")


# --- character-level language model (charlm): next-character cross-entropy, the grammar's optimum, acceptance ---


def _log_softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def next_character(logits, targets, pad=0):
    """Cross-entropy of (N, T, V) logits against (N, T) next-character ids, over the real characters (targets != pad).

    cross_entropy: the mean over every real character of the split, in nats; bits_per_character: the same in bits.
    """
    targets = np.asarray(targets)
    log_probs = _log_softmax(logits)
    if not np.all(np.isfinite(log_probs)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    real = targets != pad
    if not real.any():
        raise ValueError("no real characters to score")
    picked = np.take_along_axis(log_probs, targets[..., None].astype(np.int64), axis=-1)[..., 0]  # (N, T)
    cross_entropy = float(-picked[real].mean())
    return {"cross_entropy": cross_entropy, "bits_per_character": cross_entropy / math.log(2)}


def grammar_optimum(grammar, texts):
    """The best possible cross-entropy (nats per character) on `texts`: the mean of -log p(next | prefix) under the
    grammar over every character of every text and its end, the positions next_character scores."""
    total, positions = 0.0, 0
    for text in texts:
        for index in range(len(text) + 1):
            following = text[index] if index < len(text) else None  # None: the end of the string
            total -= math.log(grammar.next_probabilities(text[:index])[following])
            positions += 1
    return total / positions


def acceptance(grammar, texts):
    """The share of `texts` (generated strings) that the grammar accepts as whole strings."""
    if not len(texts):
        raise ValueError("no generated strings to judge")
    return float(np.mean([grammar.accepts(text) for text in texts]))


def language_model_scores(data, logits, generated=None):
    """What a charlm run reports: cross_entropy and bits_per_character on the test split; on a grammar's strings
    also its optimum, ce_over_optimum (1.0: the best possible) and the acceptance of `generated` strings."""
    scores = next_character(logits, data.y_test)
    if data.grammar is not None:
        optimum = grammar_optimum(data.grammar, data.texts_test)
        scores.update(optimum=optimum, ce_over_optimum=scores["cross_entropy"] / optimum)
        if generated is not None:
            scores["acceptance"] = acceptance(data.grammar, generated)
    return scores


def reber_baselines(data):
    """The registry's yardsticks for charlm on a grammar's test strings (nats per character, and over the optimum):
    the optimum; a model that knows the grammar but forgets the second symbol (1/2 on each of T and P where it
    comes back: log 2 more per string); character frequencies of the training strings (and their end)."""
    optimum = grammar_optimum(data.grammar, data.texts_test)
    positions = sum(len(text) + 1 for text in data.texts_test)
    forgetting = optimum + len(data.texts_test) * math.log(2) / positions
    counts = np.bincount(data.y_train[data.y_train != 0], minlength=data.vocabulary.size).astype(np.float64)
    unigram = float(-np.log(counts[data.y_test[data.y_test != 0]] / counts.sum()).mean())
    return {"optimum": optimum, "forgetting": forgetting, "forgetting_over_optimum": forgetting / optimum,
            "unigram": unigram, "unigram_over_optimum": unigram / optimum}


# --- named-entity tagging (tagger): entity-level F1 by seqeval, token accuracy ---


def tagging(true_tags, predicted_tags):
    """Scores of tag sequences (lists of IOB tag strings, one list per sentence, real tokens only).

    f1, precision and recall are entity-level, by seqeval (seqeval.metrics, its default mode: conlleval's chunking,
    the CoNLL-2003 score): an entity counts only when its type and both its boundaries are right. A sentence with
    no entity predicted adds nothing to either count (zero_division 0: no warning when nothing is predicted at all).
    token_accuracy: the share of real tokens tagged right, "O" included.
    """
    from seqeval.metrics import f1_score, precision_score, recall_score

    true_tags, predicted_tags = [list(tags) for tags in true_tags], [list(tags) for tags in predicted_tags]
    if len(true_tags) != len(predicted_tags) or not true_tags:
        raise ValueError(f"{len(true_tags)} true and {len(predicted_tags)} predicted sentences: need the same, "
                         "non-zero count")
    if any(len(true) != len(predicted) for true, predicted in zip(true_tags, predicted_tags)):
        raise ValueError("a sentence's true and predicted tags differ in length")
    tokens = sum(len(tags) for tags in true_tags)
    right = sum(t == p for true, predicted in zip(true_tags, predicted_tags) for t, p in zip(true, predicted))
    return {
        "f1": float(f1_score(true_tags, predicted_tags, zero_division=0)),
        "precision": float(precision_score(true_tags, predicted_tags, zero_division=0)),
        "recall": float(recall_score(true_tags, predicted_tags, zero_division=0)),
        "token_accuracy": right / tokens,
    }
