"""What the six generative network files (autoencoder, vae, gan; Keras and tf_impl) share.

Framework-neutral: numpy arrays in, a RunResult (and, with an output folder, the latent
PNG) out. Scoring itself is in common.evaluate; the figures in common.plots.
"""
import os

import numpy as np

from common import evaluate
from common.data import DataError
from common.results import RunResult, save_weights

GRID_EXAMPLES = 16  # test digits shown with their reconstructions in the sample grid
GRID_SAMPLES = 32  # generated samples shown in the sample grid
GRID_PER_CLASS = 8  # conditional generators: samples of each class in its row of the grid


def gan_start_size(generator_filters, image_shape):
    """The GAN generator's first feature-map side: the image side halved once per filter entry."""
    factor = 2 ** len(generator_filters)
    if image_shape[0] != image_shape[1] or image_shape[0] % factor:
        raise DataError(f"gan: needs square images with sides divisible by {factor}, got {tuple(image_shape)}")
    return image_shape[0] // factor


def figure_arrays(data, *, reconstructions=None, samples=None, codes=None, conditional=None):
    """The small arrays RunResult.figures carries: the first test digits and what the model made of them.

    conditional: (samples, the class each was asked for): the first GRID_PER_CLASS of each class,
    as "class_samples" of shape (classes, GRID_PER_CLASS, H, W, C), one row per class.
    """
    figures = {}
    if conditional is not None:
        images, labels = (np.asarray(array) for array in conditional)
        figures["class_samples"] = np.stack([images[labels == k][:GRID_PER_CLASS] for k in range(data.info.num_classes)])
    if reconstructions is not None:
        figures["inputs"] = np.asarray(data.x_test[:GRID_EXAMPLES])
        figures["reconstructions"] = np.asarray(reconstructions[:GRID_EXAMPLES])
    if samples is not None:
        figures["samples"] = np.asarray(samples[:GRID_SAMPLES])
    if codes is not None:
        figures["latent_2d"] = evaluate.latent_2d(codes)
        figures["labels"] = np.asarray(data.y_test)
    return figures


def result(network, impl, config, data, *, metric, metrics, history, seconds, epochs_run, figures,
           out_dir=None, weights=None, model=None):
    """The RunResult of a generative run; with out_dir, also weights.npz and latent.png (encoders).

    model: (the model --export serves, one input's shape): the whole autoencoder (image ->
    reconstruction), the VAE's decoder (latent vector -> pixel logits) or the GAN's
    generator (latent vector -> image).
    """
    if out_dir is not None:
        if weights is not None:
            save_weights(out_dir, weights)
        if "latent_2d" in figures:
            from common import plots  # matplotlib: only when a figure is written

            title = f"{network} ({impl}) on {data.info.name}: test codes, 2-D view"
            plots.latent_space({impl: figures["latent_2d"]}, figures["labels"], os.path.join(out_dir, "latent.png"), title)
    return RunResult.scored(
        network, impl, config, data, metric, metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        figures=figures,
        model=model[0] if model else None,
        model_input=(tuple(model[1]), "float32") if model else None,
    )
