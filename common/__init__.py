"""Everything the two implementations share: registry, configs, data, evaluation, CLI.

Nothing in this package refers to keras: it is the neutral ground both sides stand on.
"""
from common._quiet import import_tensorflow_quietly

import_tensorflow_quietly()
