"""Figures (matplotlib, Agg: no screen needed)."""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"keras": "tab:red", "tf": "tab:blue"}


def learning_curves(report, path):
    """Training loss and validation metric per epoch, every run of both implementations on one figure."""
    metric = report["metric"]
    panels = [("loss", "training loss (epoch mean)"), ("val_loss", "validation loss"), (f"val_{metric}", f"validation {metric}")]
    runs = [run for summary in report["impls"].values() for run in summary["runs"]]
    if any(run["history"].get("g_loss") for run in runs):  # a GAN: "loss" is the discriminator's
        panels[0] = ("loss", "discriminator loss (epoch mean)")
        panels.append(("g_loss", "generator loss (epoch mean)"))
    panels = [(key, title) for key, title in panels if any(run["history"].get(key) for run in runs)]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    axes = axes[0]
    for axis, (key, title) in zip(axes, panels):
        for impl, summary in report["impls"].items():
            for index, run in enumerate(summary["runs"]):
                values = run["history"].get(key)
                if not values:
                    continue
                epochs = range(1, len(values) + 1)
                axis.plot(epochs, values, color=COLORS.get(impl), alpha=0.75, linewidth=1.2,
                          label=impl if index == 0 else None)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(f"{report['network']} on {report['dataset']}: Keras vs raw TensorFlow, {report['seeds']} seed(s) each")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# --- generative figures (sample grids, latent space) ---

GRID_KINDS = (("reconstructions", "test digits (odd rows), reconstructions (even rows)"),
              ("samples", "samples from noise (a latent prior; RBM, DBN: Gibbs chains)"),
              ("class_samples", "samples by class: one row per class, 0 at the top"))


def mosaic(images, columns=8, pad=1):
    """Tile (n, H, W, 1) images in [0, 1] into one (rows*(H+pad)+pad, columns*(W+pad)+pad) array, grey gaps."""
    images = np.clip(np.asarray(images, dtype=np.float64)[..., 0], 0.0, 1.0)
    n, height, width = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad), 0.35)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = pad + row * (height + pad), pad + column * (width + pad)
        canvas[top:top + height, left:left + width] = image
    return canvas


def interleave(inputs, reconstructions, columns=8):
    """Rows of inputs, each followed by the row of their reconstructions."""
    rows = []
    for start in range(0, len(inputs), columns):
        rows += [inputs[start:start + columns], reconstructions[start:start + columns]]
    return np.concatenate(rows, axis=0)


def sample_grids(report, figures, path):
    """One PNG: each implementation's reconstructions and/or samples, Keras next to tf_impl.

    figures: {impl: {"inputs": (n,H,W,1), "reconstructions": (n,H,W,1), "samples": (m,H,W,1),
    "class_samples": (classes,k,H,W,1)}}, from seed 0's RunResult.figures.
    """
    impls = list(figures)
    kinds = [(kind, title) for kind, title in GRID_KINDS if any(kind in figures[impl] for impl in impls)]
    height = sum(4.5 if kind == "class_samples" else 2.7 for kind, _ in kinds) + 0.5  # a row per class: taller
    figure, axes = plt.subplots(len(kinds), len(impls), figsize=(4.2 * len(impls), height), squeeze=False)
    for row, (kind, title) in enumerate(kinds):
        for column, impl in enumerate(impls):
            axis = axes[row][column]
            arrays = figures[impl]
            if kind in arrays:
                columns = 8
                if kind == "class_samples":  # (classes, per class, H, W, C) -> one row per class
                    grid, columns = arrays[kind].reshape(-1, *arrays[kind].shape[2:]), arrays[kind].shape[1]
                elif kind == "samples":
                    grid = arrays[kind]
                else:
                    grid = interleave(arrays["inputs"], arrays[kind])
                axis.imshow(mosaic(grid, columns), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
            axis.set_title(f"{impl}: {title}", fontsize=8, color=COLORS.get(impl))
            axis.set_xticks([])
            axis.set_yticks([])
    figure.suptitle(f"{report['network']} on {report['dataset']} (seed 0): Keras vs raw TensorFlow")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def latent_space(codes_by_impl, labels, path, title):
    """2-D latent codes (common.evaluate.latent_2d) coloured by digit, one panel per implementation."""
    impls = list(codes_by_impl)
    figure, axes = plt.subplots(1, len(impls), figsize=(5.2 * len(impls), 4.6), squeeze=False)
    for axis, impl in zip(axes[0], impls):
        codes = np.asarray(codes_by_impl[impl])
        points = axis.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=9, alpha=0.8)
        axis.set_title(impl, color=COLORS.get(impl))
        axis.grid(alpha=0.3)
    figure.colorbar(points, ax=list(axes[0]), ticks=range(10), label="digit")
    figure.suptitle(title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def generative_figures(report, figures, plot_path):
    """The sample grid (<plot>-samples.png) and, for encoders, the latent view (<plot>-latent.png);
    for seq2seq, the attention weights of two test pairs instead (<plot>-attention.png); for the forecaster, the
    test series with both sides' forecasts (<plot>-forecast.png); for detection, test images with the true boxes
    and both sides' (<plot>-boxes.png)."""
    stem = os.path.splitext(plot_path)[0]
    if any("segmentation" in arrays for arrays in figures.values()):  # segmentation (common/segmentation.py figure)
        return [segmentation_masks(report, {impl: arrays["segmentation"] for impl, arrays in figures.items()},
                                   f"{stem}-masks.png")]
    if any("forecast" in arrays for arrays in figures.values()):  # the forecaster (common/forecasting.py)
        return [forecast_overlay(report, {impl: arrays["forecast"] for impl, arrays in figures.items()},
                                 f"{stem}-forecast.png")]
    if any("boxes" in arrays for arrays in figures.values()):  # detection (common/detection.py figure_boxes)
        return [box_overlays(report, {impl: arrays["boxes"] for impl, arrays in figures.items()}, f"{stem}-boxes.png")]
    if any("translations" in arrays for arrays in figures.values()):  # seq2seq (common/seq2seq.py scored_result)
        with_attention = {impl: arrays["attention"] for impl, arrays in figures.items() if "attention" in arrays}
        return [attention_maps(report, with_attention, f"{stem}-attention.png")] if with_attention else []
    paths = [sample_grids(report, figures, f"{stem}-samples.png")]
    latent = {impl: arrays["latent_2d"] for impl, arrays in figures.items() if "latent_2d" in arrays}
    if latent:
        labels = next(arrays["labels"] for arrays in figures.values() if "labels" in arrays)
        title = f"{report['network']} on {report['dataset']}: test codes, 2-D view (seed 0)"
        paths.append(latent_space(latent, labels, f"{stem}-latent.png", title))
    return paths


def attention_maps(report, attention, path):
    """Attention weights of the same test pairs, Keras next to tf_impl: one row per pair, one column per side.

    attention: {impl: [{"source": text, "output": text, "weights": (output characters + 1, source characters)}]}
    (common/seq2seq.py): row t is what the decoder read while writing output character t (the last row: END).
    """
    impls = list(attention)
    pairs = max(len(examples) for examples in attention.values())
    figure, axes = plt.subplots(pairs, len(impls), figsize=(5.2 * len(impls), 3.6 * pairs), squeeze=False)
    for column, impl in enumerate(impls):
        for row, example in enumerate(attention[impl]):
            axis, weights = axes[row][column], np.asarray(example["weights"])
            axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
            axis.set_xticks(range(len(example["source"])))
            axis.set_xticklabels(list(example["source"]), fontsize=7)
            axis.set_yticks(range(len(example["output"]) + 1))
            axis.set_yticklabels(list(example["output"]) + ["<end>"], fontsize=7)
            axis.set_title(f"{impl}: {example['source']!r} -> {example['output']!r}", fontsize=8, color=COLORS.get(impl))
            axis.set_xlabel("source character read", fontsize=7)
    figure.suptitle(f"{report['network']} on {report['dataset']} (seed 0): attention weights, Keras vs raw TensorFlow")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def forecast_overlay(report, curves, path):
    """The test series with both implementations' forecasts overlaid (seed 0).

    curves: {impl: {"series": the test part, "start": the index of its first forecast value, "forecast": values}}
    (common/forecasting.py figure_curve): consecutive H-step forecasts laid end to end. Below, the error of each.
    """
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    series = np.asarray(next(iter(curves.values()))["series"])
    top.plot(np.arange(len(series)), series, color="black", linewidth=1.6, label="test series")
    for impl, curve in curves.items():
        forecast = np.asarray(curve["forecast"])
        steps = curve["start"] + np.arange(len(forecast))
        top.plot(steps, forecast, color=COLORS.get(impl), linewidth=1.0, alpha=0.85, linestyle="--",
                 label=f"{impl} forecast")
        bottom.plot(steps, forecast - series[steps], color=COLORS.get(impl), linewidth=0.9, label=impl)
    horizon = report["config"].get("horizon")
    top.set_title(f"{report['network']} on {report['dataset']} (seed 0): test series and H = {horizon} forecasts "
                  f"(one every {horizon} steps, laid end to end), Keras vs raw TensorFlow", fontsize=9)
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    bottom.axhline(0.0, color="black", linewidth=0.6)
    bottom.set_ylabel("forecast - series", fontsize=8)
    bottom.set_xlabel("test step")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def segmentation_masks(report, masks, path):
    """Test images (seed 0) with their true masks and each implementation's predicted masks side by side: one row per
    image; columns: the image, the truth, then one column per side, each mask drawn over the image.

    masks: {impl: {"images": (n, H, W, C), "truth": (n, H, W), "masks": (n, H, W), "num_classes": K}}
    (common/segmentation.py figure); the images and truth are the same for every side.
    """
    impls = list(masks)
    first = masks[impls[0]]
    images, truth, classes = np.asarray(first["images"]), np.asarray(first["truth"]), int(first["num_classes"])
    colours = plt.get_cmap("tab10")(np.arange(classes))[:, :3]  # class k -> an RGB colour; 0 shown as the image
    columns = [("image", None), ("truth", truth)] + [(impl, np.asarray(masks[impl]["masks"])) for impl in impls]
    figure, axes = plt.subplots(len(images), len(columns), figsize=(1.9 * len(columns), 1.9 * len(images)),
                                squeeze=False)
    for row, image in enumerate(images):
        rgb = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, axis=-1)
        for column, (title, labels) in enumerate(columns):
            axis = axes[row][column]
            shown = rgb if labels is None else np.where(labels[row][..., None] > 0,
                                                        0.35 * rgb + 0.65 * colours[labels[row]], 0.5 * rgb)
            axis.imshow(np.clip(shown, 0.0, 1.0), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9, color=COLORS.get(title, "black"))
    figure.suptitle(f"{report['network']} on {report['dataset']} (seed 0): test masks, truth vs Keras vs raw TensorFlow "
                    "(class 0 darkened, others coloured)", fontsize=8)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


# --- throughput (twinnets bench) ---

BENCH_COLORS = {**COLORS, "keras-plain": "tab:orange", "keras-io": "tab:gray"}


def throughput_bars(report, path):
    """Median training samples/s per case, one bar per row (keras, tf, and the keras-io references), log scale."""
    cases = report["cases"]
    figure, axis = plt.subplots(figsize=(max(6.0, 1.1 * len(cases) + 2), 4.2))
    labelled = set()
    for number, case in enumerate(cases):  # each case's bars centred on its tick
        width = 0.8 / len(case["median"])
        for index, (row, value) in enumerate(case["median"].items()):
            position = number + (index - (len(case["median"]) - 1) / 2) * width
            axis.bar(position, value, width, color=BENCH_COLORS.get(row), label=None if row in labelled else row)
            labelled.add(row)
    lowest = min(value for case in cases for value in case["median"].values())
    axis.set_ylim(bottom=lowest / 3)
    axis.set_xticks(range(len(cases)))
    axis.set_xticklabels([f"{case['network']}\n{case['case']}" if case["case"] != "default" else case["network"]
                          for case in cases], rotation=45, ha="right", fontsize=8)
    axis.set_yscale("log")
    axis.set_ylabel("training samples/s (median)")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(f"training throughput, median of {report['repeats']} repeat(s), warm-up epoch excluded")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# --- detection: boxes over test images ---


def box_overlays(report, boxes, path):
    """Test images in rows; in columns the true boxes, then each implementation's detections (seed 0), labelled with
    class and score. boxes: {impl: common/detection.py figure_boxes}: images, truth (n, M, 5), found [(k, 6)]."""
    from matplotlib.patches import Rectangle

    impls = list(boxes)
    first = boxes[impls[0]]
    images, truth, classes = np.asarray(first["images"]), np.asarray(first["truth"]), first["classes"]
    columns = [("truth", "black", [t[t[:, 4] >= 0] for t in truth])] + [
        (impl, COLORS.get(impl), boxes[impl]["found"]) for impl in impls]
    figure, axes = plt.subplots(len(images), len(columns), figsize=(2.3 * len(columns), 2.3 * len(images)),
                                squeeze=False)
    for row, image in enumerate(images):
        for column, (title, colour, found) in enumerate(columns):
            axis = axes[row, column]
            axis.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
            for box in found[row]:
                x, y, w, h = box[:4]
                label = classes[int(box[-1])]
                axis.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=colour, linewidth=1.3))
                text = label if title == "truth" else f"{label} {box[4]:.2f}"
                axis.text(x - 0.5, y - 1.0, text, color="white", fontsize=5.5,
                          bbox={"facecolor": colour, "alpha": 0.75, "pad": 0.5, "linewidth": 0})
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9, color=colour, pad=9)  # above the labels of boxes at the top
    figure.suptitle(f"{report['network']} on {report['dataset']} (seed 0): true boxes, Keras's, raw TensorFlow's",
                    fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.985))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
