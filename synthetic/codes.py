"""Never-repeating resident codes, My Numbers, household numbers and card numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from schemas.change_file import RESIDENT_CODE_WEIGHTS, my_number_check_digit, resident_code_check_digit


def _household_number(seq: int) -> str:
    """世帯番号: a 9-digit sequence and a modulus-11 weights-2..7 check digit (標準仕様 1.1.13)."""
    base = f"{seq:09d}"
    r = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(base))) % 11
    return base + str(0 if r <= 1 else 11 - r)


def _card_number(rr: random.Random) -> str:
    """A 在留カード / 特別永住者証明書 number: 2 letters, 8 digits, 2 letters."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return (rr.choice(letters) + rr.choice(letters) + f"{rr.randrange(10**8):08d}"
            + rr.choice(letters) + rr.choice(letters))


def _weighted_mod11(values: np.ndarray, weights_from_right: tuple[int, ...]) -> np.ndarray:
    """Modulus-11 check digits over integers, weights applied from the rightmost digit."""
    total = np.zeros(len(values), dtype=np.int64)
    for k, w in enumerate(weights_from_right):
        total += (values // 10**k % 10) * w
    r = total % 11
    return np.where(r <= 1, 0, 11 - r)


def _check_digits(values: np.ndarray, digits: int, rule: Callable[[str], int],
                  weights_from_right: tuple[int, ...]) -> np.ndarray:
    """Check digits by the agreement's rule: vectorised, and recomputed one by one should the
    agreement's (configurable) rule no longer match the vectorised weights."""
    fast = _weighted_mod11(values, weights_from_right)
    sample = values[:64].tolist()
    if all(rule(f"{v:0{digits}d}") == int(cd) for v, cd in zip(sample, fast[:64].tolist())):
        return fast
    return np.array([rule(f"{v:0{digits}d}") for v in values.tolist()], dtype=np.int64)


@dataclass
class _Codes:
    """Never-repeating resident codes and My Numbers, drawn in seeded batches."""

    rng: np.random.Generator
    resident: list[int] = field(default_factory=list)    # with the check digit
    my_number: list[int] = field(default_factory=list)
    used_resident: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    used_my_number: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def refill(self, n: int) -> None:
        """Draw at least n more of each code, skipping every value drawn before."""
        r = self.rng.integers(0, 10**10, size=int(n * 1.02) + 64, dtype=np.int64)
        r = np.unique(r[~np.isin(r, self.used_resident)])
        self.used_resident = np.union1d(self.used_resident, r)
        r = self.rng.permutation(r)
        fresh = (r * 10 + _check_digits(r, 10, resident_code_check_digit,
                                        tuple(RESIDENT_CODE_WEIGHTS))).tolist()
        m = self.rng.integers(0, 10**11, size=int(n * 1.02) + 64, dtype=np.int64)
        m = np.unique(m[~np.isin(m, self.used_my_number)])
        self.used_my_number = np.union1d(self.used_my_number, m)
        m = self.rng.permutation(m)
        fresh_m = (m * 10 + _check_digits(m, 11, my_number_check_digit,
                                          (2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6))).tolist()
        # The buffers are consumed from the end, so new codes go in front.
        self.resident = fresh + self.resident
        self.my_number = fresh_m + self.my_number

    def take(self) -> tuple[int, int]:
        """A fresh (resident_code, my_number) as integers (see _rc and _mn for the text)."""
        if not self.resident or not self.my_number:
            self.refill(10_000)
        return self.resident.pop(), self.my_number.pop()


def _rc(value: int) -> str:
    """住民票コード text: 11 digits."""
    return f"{value:011d}"


def _mn(value: int) -> str:
    """個人番号 text: 12 digits."""
    return f"{value:012d}"
