"""Result objects of the memloc package: named NumPy arrays, nothing computed here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple

import numpy as np


@dataclass(frozen=True)
class UnitMemResult:
    """UnitMem of each unit (LOC Eqs. 5-8) and the quantities it is formed from."""

    unitmem: np.ndarray  # float64 [units]; NaN where undefined (see nan_units)
    mu_max: np.ndarray  # float64 [units]: the highest per-sample mean activation
    argmax: np.ndarray  # int64 [units]: the sample id of mu_max (the first on ties)
    mu_rest: np.ndarray  # float64 [units]: mean (or median) over the other samples
    samples: int  # distinct samples folded
    units: int
    nan_units: int
    negative_denominator_units: int


@dataclass(frozen=True)
class ClassMemResult:
    """ClassMem of each unit (LOC App. D.2, Eqs. 13-16)."""

    classmem: np.ndarray
    mu_max: np.ndarray
    max_class: np.ndarray
    mu_rest: np.ndarray
    samples: int
    units: int
    classes_with_samples: int
    nan_units: int
    negative_denominator_units: int


@dataclass(frozen=True)
class AlignmentResult:
    """SSL_f and SSL_g of every sample id: the mean distance between its views' representations."""

    ssl_f: np.ndarray
    ssl_g: np.ndarray


@dataclass(frozen=True)
class LayerMemResult:
    """LayerMem and ΔLayerMem per measurement point, in the order of the points given."""

    names: List[str]
    layermem: np.ndarray
    delta: np.ndarray  # delta[0] is NaN: the first point has no predecessor
    subset: np.ndarray  # the sample ids averaged over (rank order for top / least)
    ssl_f: Dict[str, np.ndarray] = field(default_factory=dict)
    ssl_g: Dict[str, np.ndarray] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, float]:
        return dict(zip(self.names, self.layermem.tolist()))


class KendallTauResult(tuple):
    """(statistic, pvalue) like scipy.stats.kendalltau's result, with the pair counts."""

    def __new__(cls, statistic, pvalue, **details):
        result = super().__new__(cls, (statistic, pvalue))
        result.__dict__.update(details)
        return result

    @property
    def statistic(self) -> float:
        return self[0]

    @property
    def tau(self) -> float:
        return self[0]

    @property
    def pvalue(self) -> float:
        return self[1]

    def __repr__(self) -> str:
        return f"KendallTauResult(statistic={self[0]!r}, pvalue={self[1]!r}, n={self.__dict__.get('n')!r})"


class TTestResult(tuple):
    """(statistic, pvalue) like scipy.stats.ttest_ind's result, with the degrees of freedom."""

    def __new__(cls, statistic, pvalue, df):
        result = super().__new__(cls, (statistic, pvalue))
        result.df = df
        return result

    @property
    def statistic(self) -> float:
        return self[0]

    @property
    def pvalue(self) -> float:
        return self[1]

    def __repr__(self) -> str:
        return f"TTestResult(statistic={self[0]!r}, pvalue={self[1]!r}, df={self.df!r})"


class OverlapResult(NamedTuple):
    count: int  # items in both top-k sets
    fraction: float  # count / k
    k: int


@dataclass(frozen=True)
class OverlapMatrix:
    names: List[str]
    k: int
    counts: np.ndarray  # int64 [points, points]; the diagonal is k

    @property
    def fractions(self) -> np.ndarray:
        return self.counts / float(self.k)


@dataclass(frozen=True)
class PruningMasks:
    masks: Dict[str, np.ndarray]  # bool [units] per layer: True where the unit is selected
    units: Dict[str, np.ndarray]  # the selected units of each layer, increasing
    nan_units: Dict[str, int]


@dataclass(frozen=True)
class LayerSelection:
    names: List[str]  # best first
    indices: np.ndarray  # their positions in the list given
    nan_count: int


@dataclass(frozen=True)
class UnitSampleLinks:
    argmax_score: np.ndarray  # per unit: the score of its argmax sample
    top_units: np.ndarray  # the top units by UnitMem, highest first
    top_unit_count: np.ndarray  # per sample id: how many top units have it as argmax
    nan_units: int


class StateBuffer(NamedTuple):
    name: str
    array: np.ndarray  # the accumulator's own memory; writing to it changes the state
    reduction: str  # "sum" or "max" (unsigned, for uint64 keys)
