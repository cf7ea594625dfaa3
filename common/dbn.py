"""What the two dbn twins share: the data the stack reads, the seeds of its layers, the samples' start, the result.

Framework-neutral: numpy in, numpy or a RunResult out. The RBMs themselves are the rbm
network's (keras_impl/rbm.py, tf_impl/rbm.py); scoring is common.evaluate's (classification
for the classifier, sample_quality, the gan's judge, for the samples).

The DBN reads an image's grey levels as the probabilities of its first RBM's visible units
(Hinton & Salakhutdinov 2006 do so for MNIST): unlike the rbm network, whose likelihood is
that of binary data, it does not binarise. On 8x8 digits binarising costs the classifier
about six points (measured with scikit-learn RBMs and the Keras classifier, 3 seeds: 0.90-0.92
binarised against 0.96-0.98 on grey levels). Values outside [0, 1] are refused as for the rbm
(common.energy.check_unit_interval).
"""
import dataclasses

import numpy as np

from common import energy, evaluate, generative
from common.results import RunResult, save_weights, training_throughput

NETWORK = "dbn"
SAMPLE_SEED = energy.SAMPLE_SEED  # the Gibbs uniforms and the noise the samples start from: the same for both sides


def layer_seed(seed, index):
    """The seed of the RBM of hidden layer `index` (0 = the bottom one) in a run of `seed`: apart from the
    classifier's (seed, seed + 1) and from every other run's layers for seeds below 1000."""
    return 1000 * (index + 1) + seed


def checked(data):
    """data, refused with one clear message unless every pixel is in [0, 1]."""
    return energy.check_unit_interval(data, NETWORK)


def flat(x):
    x = np.asarray(x, np.float32)
    return x.reshape(len(x), -1)  # (N, H, W, C) -> (N, visible units)


def layer_data(data, features):
    """The training split as the next RBM of the stack sees it: `features` (N, units) in place of the images,
    with the same labels, batches and shuffles (data.train)."""
    features = np.asarray(features, np.float32)
    info = dataclasses.replace(data.info, input_shape=(features.shape[1],))
    return dataclasses.replace(data, x_train=features, info=info)


def sample_start(n_visible, count):
    """Where the top RBM's Gibbs chains start: binary noise on its visible units (each on with probability 1/2),
    one chain per sample, (count, n_visible); the same for both implementations."""
    return energy.sample_start(n_visible, chains=count, seed=SAMPLE_SEED)


def result(impl, config, data, *, classified, scratch, samples, runs, pretrain_history, seconds, out_dir=None,
           weights=None, model=None):
    """The RunResult of a DBN run.

    classified, scratch: test logits of the pretrained + fine-tuned classifier and of the scratch one;
    samples: (N, visible units) pixel probabilities from the top-down pass (as many as test images);
    runs: {"fine_tuning": history, "scratch": history} of the two fits; pretrain_history: {layer: RBM history};
    weights: the fine-tuned classifier's (Keras order), written to out_dir/weights.npz; model: what --export serves.
    """
    metrics = evaluate.classification(data.y_test, classified)
    baseline = evaluate.classification(data.y_test, scratch)
    metrics.update(scratch_accuracy=baseline["accuracy"], scratch_log_loss=baseline["log_loss"])
    metrics["pretraining_gain"] = metrics["accuracy"] - metrics["scratch_accuracy"]
    images = np.asarray(samples, np.float32).reshape(-1, *data.info.input_shape)  # (N, units) -> (N, H, W, C)
    metrics.update(evaluate.sample_quality(images, data.x_train, data.y_train, data.x_test))
    fine_tuning = runs["fine_tuning"]
    history = {name: values for name, values in fine_tuning.items()}
    history.update({f"scratch_{name}": runs["scratch"][name] for name in ("loss", "val_loss", "val_accuracy")})
    for layer, layer_history in pretrain_history.items():
        history.update({f"pretrain_{layer}_{name}": layer_history[name] for name in ("loss", "reconstruction_error")})
    if out_dir is not None:
        save_weights(out_dir, weights)  # the fine-tuned classifier, Keras order: portable between the twins
    return RunResult(
        network=NETWORK,
        impl=impl,
        dataset=data.info.name,
        metric="accuracy",
        value=metrics["accuracy"],
        metrics=metrics,
        history=history,
        train_seconds=seconds,
        samples_per_second=training_throughput(data.info.n_train, fine_tuning["epoch_seconds"]),  # fine-tuning's
        epochs_run=config.pretrain_epochs * len(config.hidden_units) + 2 * len(fine_tuning["loss"]),
        seed=config.seed,
        config=dataclasses.asdict(config),
        figures=generative.figure_arrays(data, samples=images),
        model=model,  # what --export serves: the fine-tuned classifier
        model_input=(tuple(data.info.input_shape), "float32") if model is not None else None,
    )
