"""Named seed streams: every random draw of structsearch derives from one user seed through here.

A stream is ``(seed, name, *index)``: the user's seed, the name of what draws (below), and the
integers that tell its draws apart (generation and child, prior and network, repeat, step, …).
It becomes a :class:`numpy.random.SeedSequence` with the seed as entropy and ``(id(name),
*index)`` as spawn key, so streams are independent of each other whatever the seed (no
``seed + 1`` collisions between "the model of run 1" and "the rule of run 0"), and adding a stream
never changes another.

=================  ==========================================================================
stream             what draws from it
=================  ==========================================================================
``model``          a :class:`~structsearch.config.RunConfig`'s initial topology and weights
``rewiring``       a rewiring rule's drops and regrowth (SET, SET-motif, RigL)
``rule-draws``     the rule's own generator, seeded with a ``rewiring`` seed: even a rule given
                   the same integer seed as its model draws other numbers than the model
``candidate``      a search candidate's training seed (index: generation, child)
``search``         the search's numpy generator: priors, mutations and crossovers
``selection``      DEAP's ``random`` state: tournaments and NSGA-II ties
``gate``           the online predictor's regressor
``trial-genotype`` a study trial's genotype (index: trial number)
``trial-init``     a study trial's training seed (index: trial number)
``sampler``        a study process's TPE sampler (index: trials so far, process)
``network``        a random-structure study's genotype (index: prior, network)
``network-init``   one training of such a network (index: prior, network, repeat)
``retrain``        retraining after a pruning step (index: step)
``repeat``         a repeat of an experiment's training (index: repeat)
``census``         a motif census's null graphs (index: epoch, for a census during training)
``prior``          a genotype drawn from a prior by ``structsearch genotype sample``
``split``          a generated task's train/test and validation splits (Reber)
``audit``          the dropped children a gate audit trains anyway (index: generation)
=================  ==========================================================================

Seeds given to torch and to :class:`~structsearch.train.TrainConfig` are 31-bit integers
(:func:`derive`); generators are :func:`generator`.  The derivation is version ``SEED_VERSION``;
a search stored with another version cannot be resumed (its replay would draw other children).
"""

from __future__ import annotations

import numpy as np

from structsearch.errors import ConfigError, DataError
from structsearch.registry import Registry

SEED_VERSION = 2  # 1: the ad-hoc formulas of structsearch 0.1.0 (seed + 1, seed * 10007 + …)

STREAMS: Registry[int] = Registry("seed stream", {name: number for number, name in enumerate((
    "model", "rewiring", "rule-draws", "candidate", "search", "selection", "gate", "trial-genotype",
    "trial-init", "sampler", "network", "network-init", "retrain", "repeat", "census", "prior", "split",
    "audit", "size-bootstrap", "ensemble", "acquisition",
), start=1)})


def check_version(version: int, what) -> None:
    """A one-line :class:`DataError` when ``what`` (a run) drew its numbers with another derivation."""
    if version != SEED_VERSION:
        raise DataError(f"{what}: made with seed derivation {version} (structsearch 0.1); this version "
                        f"(derivation {SEED_VERSION}) would draw other candidates, so it cannot continue it. "
                        "Finish it with structsearch 0.1, or start a new run")


def seed_sequence(seed: int, stream: str, *index: int) -> np.random.SeedSequence:
    """The :class:`~numpy.random.SeedSequence` of stream ``stream`` at ``index`` under ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"a seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed), spawn_key=(STREAMS.lookup(stream), *map(int, index)))


def generator(seed: int, stream: str, *index: int) -> np.random.Generator:
    """A numpy generator drawing from the stream."""
    return np.random.default_rng(seed_sequence(seed, stream, *index))


def derive(seed: int, stream: str, *index: int) -> int:
    """A 31-bit integer seed from the stream (for torch, TrainConfig and ``random.Random``)."""
    return int(seed_sequence(seed, stream, *index).generate_state(1)[0] & 0x7FFFFFFF)
