"""common.data.shapes: what a convolutional or recurrent network can read."""
import pytest

from common import data as data_module
from common.data import DataError


def test_conv_net_refuses_tables():
    with pytest.raises(DataError, match="needs images"):
        data_module.require_image((30,), "cnn", halvings=2)
    with pytest.raises(DataError, match="too small"):
        data_module.require_image((2, 2, 1), "cnn", halvings=2)
    assert data_module.require_image((28, 28, 1), "cnn", halvings=2) == (7, 7)


def test_recurrent_networks_refuse_tables():
    with pytest.raises(DataError, match="reads sequences"):
        data_module.require_sequence((30,), "lstm")
    assert data_module.require_sequence((28, 28, 1), "lstm") == (28, 28)  # rows as steps
    assert data_module.require_sequence((200,), "lstm", vocabulary_size=10) == (200, None)
