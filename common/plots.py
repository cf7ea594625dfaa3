"""Figures (matplotlib, Agg: no screen needed)."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"keras": "tab:red", "tf": "tab:blue"}


def learning_curves(report, path):
    """Training loss and validation metric per epoch, every run of both implementations on one figure."""
    metric = report["metric"]
    panels = [("loss", "training loss (epoch mean)"), ("val_loss", "validation loss"), (f"val_{metric}", f"validation {metric}")]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8))
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
