"""What a network can read: checks that refuse data of the wrong shape with a clear message."""
from common.data.core import DataError


def require_image(input_shape, network, halvings):
    """The spatial size left after `halvings` 2x2 poolings; refuse data a conv net cannot take."""
    if len(input_shape) != 3:
        raise DataError(
            f"{network} needs images (height, width, channels); this data has examples of shape {tuple(input_shape)}"
        )
    height, width, _ = input_shape
    for _ in range(halvings):
        height, width = height // 2, width // 2
    if min(height, width) < 1:
        raise DataError(
            f"{network}: {input_shape[0]}x{input_shape[1]} images are too small for {halvings} 2x2 poolings"
        )
    return height, width


def require_sequence(input_shape, network, vocabulary_size=0):
    """(time steps, features per step) of the data a recurrent network reads; refuse what it cannot.

    Sequences (T, F) as they are; images (H, W, C) row by row, H steps of W*C features;
    token ids (T,) (vocabulary_size > 0) become embedding vectors, so features is None.
    """
    if vocabulary_size:
        return input_shape[0], None
    if len(input_shape) == 2:
        return tuple(input_shape)
    if len(input_shape) == 3:
        height, width, channels = input_shape
        return height, width * channels
    raise DataError(
        f"{network} reads sequences (time, features), images (rows as steps) or token ids; "
        f"this data has examples of shape {tuple(input_shape)}"
    )
