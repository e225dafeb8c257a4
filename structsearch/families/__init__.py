"""Genotype families as plug-ins: the layered (MLP), recurrent and convolutional families, each a
module that registers itself in :data:`FAMILIES` under the name ``[model] kind`` takes.

A new family (or a new prior of a family) registers from its own module, with no edit elsewhere::

    from structsearch.families import FAMILIES, Family, Prior, Parameter

    class ChainFamily(Family):
        name = "chain"
        ...

    FAMILIES.register("chain", ChainFamily())
"""

# isort: off
# each registers itself, in this order (the layered family first: `[model] kind`'s default)
from structsearch.families import layered  # noqa: F401
from structsearch.families import recurrent  # noqa: F401
from structsearch.families import convolutional  # noqa: F401
# isort: on
from structsearch.families.base import (
    FAMILIES,
    Family,
    GenotypeFamily,
    Parameter,
    Prior,
    PriorContext,
    distinct_families,
    families_of_prior,
    family_of,
    find_prior,
    genotype_from_bytes,
    load_genotype,
    operator_names,
    prior_names,
    uniform,
)

__all__ = ["FAMILIES", "Family", "GenotypeFamily", "Parameter", "Prior", "PriorContext", "distinct_families",
           "families_of_prior", "family_of", "find_prior", "genotype_from_bytes", "load_genotype",
           "operator_names", "prior_names", "uniform"]
