"""The old home of the rewiring rules, kept for one release: use :mod:`structsearch.sparsity.rewiring`.

"Evolution" now means the genetic search only; rewiring a network's topology while it trains (SET,
SET-motif, RigL) is "rewiring" everywhere. Importing this module, or an old name from it, works
until structsearch 0.3 with a :class:`DeprecationWarning`.
"""

import warnings

from structsearch.sparsity import rewiring as _rewiring

warnings.warn("structsearch.sparsity.evolution is now structsearch.sparsity.rewiring; the old module works "
              "until structsearch 0.3", DeprecationWarning, stacklevel=2)


def __getattr__(name: str):
    return getattr(_rewiring, name)  # the old names themselves are resolved (and warned of) there
