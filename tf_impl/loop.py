"""The epoch loop: what `model.fit` does around the step, written out.

The step itself (forward pass, loss, gradients, update) stays with the network; this
module runs it over the epochs: the running mean of the loss over each epoch (weighted
by batch size, as Keras's loss tracker does), validation after every epoch, early
stopping, a NaN guard, and one progress line per epoch.
"""
import math
import sys
import time

from common.evaluate import check_finite


class EarlyStopping:
    """keras.callbacks.EarlyStopping(monitor="val_loss", patience, restore_best_weights=True), step for step.

    Like Keras, the best weights are restored at the end of training whether or not
    training stopped early.
    """

    def __init__(self, patience, get_weights, set_weights):
        self.patience = patience
        self.get_weights, self.set_weights = get_weights, set_weights
        self.best = math.inf
        self.best_weights = None
        self.best_epoch = 0
        self.wait = 0

    def should_stop(self, epoch, value):
        if self.best_weights is None:
            self.best_weights, self.best_epoch = self.get_weights(), epoch
        self.wait += 1
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            self.best_weights = self.get_weights()
            self.wait = 0
            return False
        return self.wait >= self.patience and epoch > 0

    def restore(self):
        if self.best_weights is not None:
            self.set_weights(self.best_weights)


def run_epochs(*, epochs, train_step, train_batches, validate, early_stopping=None, verbose=1):
    """Train for `epochs` passes, or until early stopping.

    train_step(x, y) -> (mean loss of the batch, batch size), compiled.
    train_batches() -> an iterable of (x, y) batches, reshuffled on each call.
    validate() -> dict of validation metrics ("val_loss", ...).
    Returns (history, epochs_run).
    """
    history = {"loss": []}
    epochs_run = 0
    for epoch in range(epochs):
        started = time.perf_counter()
        loss_sum, examples = 0.0, 0
        for x, y in train_batches():
            loss, batch_size = train_step(x, y)
            loss_sum += loss * float(batch_size)  # tensors: no host sync inside the epoch
            examples += batch_size
        epoch_loss = float(loss_sum / float(examples))
        check_finite(epoch_loss, "the training loss", epoch)
        history["loss"].append(epoch_loss)
        for name, value in validate().items():
            history.setdefault(name, []).append(value)
        epochs_run = epoch + 1
        if verbose:
            logs = " - ".join(f"{name}: {values[-1]:.4f}" for name, values in history.items())
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - started:.2f}s - {logs}", file=sys.stdout, flush=True)
        if early_stopping is not None and early_stopping.should_stop(epoch, history["val_loss"][-1]):
            if verbose:
                print(f"Epoch {epoch + 1}: early stopping", flush=True)
            break
    if early_stopping is not None:
        early_stopping.restore()
    return history, epochs_run
