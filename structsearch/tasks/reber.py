"""The Reber grammar and its embedded variant, as a string-classification task.

The transition diagram is Reber's (1967/1976) finite-state grammar as drawn by Hochreiter &
Schmidhuber (1997, Fig. 1) and used by Stier et al. (2021, §4.2):

    B → state 0
    0: T→1  P→2        1: S→1  X→3        2: T→2  V→4
    3: X→2  S→5        4: P→3  V→5        5: E (end)

Each branch is taken with probability ½.  The embedded grammar wraps one Reber string as
``B T <reber> T E`` or ``B P <reber> P E``; the second symbol must be repeated before the end,
which a model can only learn with long memory.

A task row is a string, true or false in equal numbers.  A false string is a true one with one
symbol substituted, inserted or deleted, kept only when the recogniser rejects it.  Characters are
encoded as their ASCII codes (``0`` pads), so a model starts with an embedding over codes < 128.
"""

from __future__ import annotations

import numpy as np
import torch

from structsearch import seeds
from structsearch.errors import ConfigError
from structsearch.tasks.base import Split, Task, check_fraction, register_task, stratified_split

ALPHABET = "BTSXPVE"
VOCABULARY_SIZE = 128

# state -> list of (symbol, next state); state 5 emits the final E.
TRANSITIONS: dict[int, list[tuple[str, int]]] = {
    0: [("T", 1), ("P", 2)],
    1: [("S", 1), ("X", 3)],
    2: [("T", 2), ("V", 4)],
    3: [("X", 2), ("S", 5)],
    4: [("P", 3), ("V", 5)],
}
_END = 5


def generate_reber(rng: np.random.Generator) -> str:
    """One true Reber string, ``B…E``."""
    symbols = ["B"]
    state = 0
    while state != _END:
        symbol, state = TRANSITIONS[state][rng.integers(2)]
        symbols.append(symbol)
    symbols.append("E")
    return "".join(symbols)


def generate_embedded_reber(rng: np.random.Generator) -> str:
    """One true embedded Reber string, ``B T <reber> T E`` or ``B P <reber> P E``."""
    wrap = "TP"[rng.integers(2)]
    return f"B{wrap}{generate_reber(rng)}{wrap}E"


def is_reber(string: str) -> bool:
    """Whether ``string`` is a complete sentence of the Reber grammar."""
    if len(string) < 2 or string[0] != "B" or string[-1] != "E":
        return False
    state = 0
    for symbol in string[1:-1]:
        if state == _END:
            return False
        nxt = dict(TRANSITIONS[state]).get(symbol)
        if nxt is None:
            return False
        state = nxt
    return state == _END


def is_embedded_reber(string: str) -> bool:
    """Whether ``string`` is a complete sentence of the embedded Reber grammar."""
    return (
        len(string) >= 4
        and string[0] == "B"
        and string[-1] == "E"
        and string[1] in "TP"
        and string[-2] == string[1]
        and is_reber(string[2:-2])
    )


def corrupt(string: str, rng: np.random.Generator, recogniser) -> str:
    """A copy of ``string`` with one symbol substituted, inserted or deleted that ``recogniser`` rejects."""
    while True:
        operation = rng.integers(3)
        position = int(rng.integers(len(string) + (operation == 1)))
        symbol = ALPHABET[rng.integers(len(ALPHABET))]
        if operation == 0:
            candidate = string[:position] + symbol + string[position + 1 :]
        elif operation == 1:
            candidate = string[:position] + symbol + string[position:]
        else:
            candidate = string[:position] + string[position + 1 :]
        if candidate and not recogniser(candidate):
            return candidate


def generate_dataset(
    n_strings: int, seed: int, embedded: bool = False, max_length: int = 60
) -> tuple[list[str], np.ndarray]:
    """``n_strings`` strings (half true, half false, shuffled) and their labels (1 = true).

    True strings longer than ``max_length`` are redrawn so that padding stays bounded.
    """
    if n_strings < 2:
        raise ConfigError(f"n_strings must be at least 2, got {n_strings}")
    minimum = 9 if embedded else 5
    if max_length < minimum:
        raise ConfigError(f"max_length must be at least {minimum} for this grammar, got {max_length}")
    rng = np.random.default_rng(seed)
    generate = generate_embedded_reber if embedded else generate_reber
    recogniser = is_embedded_reber if embedded else is_reber
    n_true = n_strings // 2
    strings, labels = [], []
    for index in range(n_strings):
        string = generate(rng)
        while len(string) > max_length - 1:  # leave room for an inserted symbol
            string = generate(rng)
        if index < n_true:
            strings.append(string)
            labels.append(1)
        else:
            strings.append(corrupt(string, rng, recogniser))
            labels.append(0)
    order = rng.permutation(n_strings)
    return [strings[i] for i in order], np.asarray(labels, dtype=np.int64)[order]


def encode(strings: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """ASCII codes padded with 0 into a (n, longest) LongTensor, plus the lengths."""
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    codes = np.zeros((len(strings), int(lengths.max())), dtype=np.int64)
    for row, string in enumerate(strings):
        codes[row, : len(string)] = np.frombuffer(string.encode("ascii"), dtype=np.uint8)
    return torch.from_numpy(codes), torch.from_numpy(lengths)


def decode(codes: torch.Tensor, length: int) -> str:
    return bytes(codes[:length].tolist()).decode("ascii")


def _reber_task(
    name: str,
    embedded: bool,
    n_strings: int,
    test_size: int | None,
    validation_fraction: float,
    seed: int,
    max_length: int,
) -> Task:
    check_fraction("validation_fraction", validation_fraction)
    test_size = n_strings // 4 if test_size is None else test_size
    if not 0 < test_size < n_strings:
        raise ConfigError(f"test_size must lie in (0, n_strings={n_strings}), got {test_size}")
    strings, labels = generate_dataset(n_strings, seed, embedded, max_length)
    codes, lengths = encode(strings)
    everything = Split(codes, torch.from_numpy(labels), lengths)
    rng = seeds.generator(seed, "split")
    train_rows, test_rows = stratified_split(labels, test_size / n_strings, rng)
    train_rows_fit, val_rows = stratified_split(labels[train_rows], validation_fraction, rng)
    return Task(
        name=name,
        train=everything.subset(train_rows[train_rows_fit]),
        validation=everything.subset(train_rows[val_rows]),
        test=everything.subset(test_rows),
        input_shape=(int(codes.shape[1]),),
        n_classes=2,
        sequence=True,
        vocabulary_size=VOCABULARY_SIZE,
    )


def _reber_loader(name: str, embedded: bool):
    def load(
        n_strings: int = 25_000,
        test_size: int | None = None,
        validation_fraction: float = 0.1,
        seed: int = 0,
        max_length: int = 60,
    ) -> Task:
        return _reber_task(name, embedded, n_strings, test_size, validation_fraction, seed, max_length)

    load.__doc__ = (
        f"{name} strings; by default 25,000 split 18,750 train / 6,250 test as in Stier et al. (2021)."
    )
    return load


load_reber = register_task(
    "reber", "Reber grammar strings, true vs. one-symbol-corrupted (Stier et al. 2021)"
)(_reber_loader("reber", embedded=False))
load_embedded_reber = register_task(
    "embedded-reber", "embedded Reber grammar (Hochreiter & Schmidhuber 1997)"
)(_reber_loader("embedded-reber", embedded=True))
