"""What the energy-based networks (rbm, dbn) share: binary data in [0, 1], and an RBM run's result.

Framework-neutral: numpy in, numpy or a RunResult out. Scoring itself is in common.evaluate
(rbm_* functions); the figures in common.plots.

An RBM's visible units are binary, and its likelihood is that of binary data: images come
in as grey levels in [0, 1] (digits, an .npz, tfds) and are binarised here by one fixed
threshold, the same for every source. A value outside [0, 1] (raw 0-255 pixels that were
not scaled, negatives, standardised tables) is refused before any training.
"""
import dataclasses

import numpy as np

from common import evaluate
from common.data import DataError
from common.results import RunResult, save_weights

BINARY_THRESHOLD = 0.5  # a grey level above this is an active pixel (digits: 9/16 and above)
SAMPLE_CHAINS = 32  # Gibbs chains drawn for the sample grid
SAMPLE_STEPS = 1000  # Gibbs steps from noise to a sample of the grid
SAMPLE_SEED = evaluate.EVAL_SEED  # the grid's uniforms: the same for both implementations


def check_unit_interval(data, network):
    """Refuse data whose examples are not all in [0, 1], naming the range and the split; returns data."""
    for split in ("train", "val", "test"):
        x = np.asarray(getattr(data, f"x_{split}"))
        low, high = float(x.min()) + 0.0, float(x.max()) + 0.0  # + 0.0: no "-0" in the message
        if low < 0.0 or high > 1.0:
            hint = " (raw 0-255 pixels? divide them by 255)" if high > 1.0 and low >= 0.0 else ""
            raise DataError(f"{network} needs inputs in [0, 1] (probabilities of its binary units); x_{split} of "
                            f"{data.info.name} holds values from {low:g} to {high:g}{hint}")
    return data


def binarise(x):
    """1.0 where x > BINARY_THRESHOLD, else 0.0, float32, flattened per example: (N, ...) -> (N, units)."""
    x = np.asarray(x)
    return (x.reshape(len(x), -1) > BINARY_THRESHOLD).astype(np.float32)


def binary_data(data, network):
    """The data an RBM trains on: checked in [0, 1], binarised, each example flattened to one row of visible units.

    data.info.input_shape becomes (units,); the image shape stays in `image_shape` for the figures.
    """
    check_unit_interval(data, network)
    arrays = {f"x_{split}": binarise(getattr(data, f"x_{split}")) for split in ("train", "val", "test")}
    units = arrays["x_train"].shape[1]
    return dataclasses.replace(data, **arrays, info=dataclasses.replace(data.info, input_shape=(units,)))


def image_shape(data):
    """(H, W, C) of an image dataset, or (units, 1, 1) for anything else: how the figures draw one example."""
    shape = tuple(data.info.input_shape)
    return shape if len(shape) == 3 else (int(np.prod(shape)), 1, 1)


def sample_start(n_visible, chains=SAMPLE_CHAINS, seed=SAMPLE_SEED):
    """Where the sample grid's Gibbs chains start: binary noise, each unit on with probability 1/2, (chains, n_visible);
    the same for both implementations."""
    return (np.random.default_rng(seed).uniform(size=(chains, n_visible)) < 0.5).astype(np.float32)


def gibbs_uniforms(rows, steps, n_hidden, n_visible, seed):
    """Uniforms in [0, 1) for `steps` Gibbs steps of `rows` chains: (rows, steps, n_hidden + n_visible), float32.

    Step t samples h with [:, t, :n_hidden] and v with [:, t, n_hidden:] (a unit is 1 where its uniform is
    below its probability). Both implementations' samplers draw through this, so one seed gives one chain.
    """
    return np.random.default_rng(seed).uniform(size=(rows, steps, n_hidden + n_visible)).astype(np.float32)


def result(network, impl, config, data, images, *, weights, history, seconds, epochs_run, reconstructions, samples,
           out_dir=None, model=None):
    """The RunResult of an RBM run on binary_data(...) `data`, scored by common.evaluate on the test split.

    images: the original data (for the image shape of the figures). weights: [kernel, hidden_bias,
    visible_bias]. reconstructions, samples: (N, units) visible probabilities. With more hidden units than
    the exact sum allows, log-likelihood is estimated by AIS, and the run says so.
    """
    metrics, method = evaluate.rbm_scores(data.x_test, data.x_train, *weights)
    if method != "exact":
        print(f"{network} ({impl}): {weights[0].shape[1]} hidden units are more than the {evaluate.EXACT_HIDDEN_LIMIT} "
              f"whose 2^n states the exact log-likelihood sums over: log Z estimated by annealed importance sampling "
              f"({evaluate.AIS_CHAINS} chains, {evaluate.AIS_BETAS:,} temperatures), standard error "
              f"{metrics['log_partition_stderr']:.4f} nats", flush=True)
    shape = image_shape(images)
    figures = {
        "inputs": data.x_test[:16].reshape(-1, *shape),
        "reconstructions": np.asarray(reconstructions)[:16].reshape(-1, *shape),
        "samples": np.asarray(samples).reshape(-1, *shape),
    }
    if out_dir is not None:
        save_weights(out_dir, weights)
    return RunResult.scored(
        network, impl, config, data, "log_likelihood", metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        figures=figures,
        model=model,
        model_input=((data.info.input_shape[0],), "float32") if model is not None else None,
    )
