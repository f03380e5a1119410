"""The dataset registry for small nets: seeded 2-D classification sets and a 1-D regression, split into train and test."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from optviz.core.specs import ConfigError, Param

MIN_POINTS = 20
MAX_POINTS = 5000


# Each maker is self-contained (imports inside) so the code generator can copy it verbatim into a script.
# Signature: (n, noise, seed) -> (X float64 (n, d), y int64 (n,) for classes | float64 (n,) for regression).

def make_moons_data(n, noise, seed):
    import numpy as np
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return X.astype(np.float64), y.astype(np.int64)


def make_circles_data(n, noise, seed):
    import numpy as np
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    return 2.0 * X.astype(np.float64), y.astype(np.int64)


def make_blobs_data(n, noise, seed):
    import numpy as np
    from sklearn.datasets import make_blobs

    centers = [[-2.0, -1.5], [2.0, -1.5], [0.0, 2.0]]
    X, y = make_blobs(n_samples=n, centers=centers, cluster_std=noise, random_state=seed)
    return X.astype(np.float64), y.astype(np.int64)


def make_spiral_data(n, noise, seed):
    import numpy as np

    # two interleaved arms of 1.5 turns: radius 2u, angle 3πu (+ π for the second arm), u ∈ [0, 1]
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    u = rng.uniform(0.0, 1.0, n) ** 0.5
    angle = 3 * np.pi * u + np.pi * y
    X = np.stack([2 * u * np.cos(angle), 2 * u * np.sin(angle)], axis=1)
    X = X + noise * rng.normal(size=(n, 2))
    return X.astype(np.float64), y.astype(np.int64)


def make_xor_data(n, noise, seed):
    import numpy as np

    # label = sign(x₁·x₂): opposite quadrants share a class, which no single line separates
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X = X + noise * rng.normal(size=(n, 2))
    return X.astype(np.float64), y


def make_sine_data(n, noise, seed):
    import numpy as np

    # y = sin(2x) + ε, ε ~ N(0, noise²), x ∈ [−3, 3]
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n, 1))
    y = np.sin(2.0 * x[:, 0]) + noise * rng.normal(size=n)
    return x.astype(np.float64), y.astype(np.float64)


def split_data(X, y, test_fraction, seed):
    import numpy as np

    # a seeded permutation; the first round(n·test_fraction) points are the test set
    perm = np.random.default_rng(seed + 1).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], y[train], X[test], y[test]


def _params(noise: float, noise_high: float, noise_help: str) -> tuple[Param, ...]:
    return (
        Param("n_points", "int", 400, "Number of points (train + test).", MIN_POINTS, MAX_POINTS),
        Param("noise", "float", noise, noise_help, 0.0, noise_high),
        Param("test_fraction", "float", 0.25, "Share of the points held out as the test set.", 0.05, 0.5),
        Param("seed", "int", 0, "Seed of the data (the points and the split).", 0, 10_000),
    )


@dataclass(frozen=True)
class Dataset:
    """One dataset: how to make it, what the net must predict, and the controls it takes."""

    key: str
    label: str
    make: Callable
    summary: str
    params: tuple[Param, ...]
    task: str = "classification"       # "classification" (cross-entropy) or "regression" (MSE)
    n_classes: int = 2                 # outputs of the classifier layer (1 for regression)
    n_features: int = 2

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def n_outputs(self) -> int:
        return 1 if self.regression else self.n_classes

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict:
        return {p.name: p.initial for p in self.params}


DATASETS: dict[str, Dataset] = {d.key: d for d in [
    Dataset("moons", "two moons", make_moons_data, "Two interleaving half circles (sklearn make_moons).",
            _params(0.2, 1.0, "Standard deviation of the Gaussian noise added to the points.")),
    Dataset("circles", "circles", make_circles_data, "A ring around a disc (sklearn make_circles): no line separates them.",
            _params(0.1, 1.0, "Standard deviation of the Gaussian noise added to the points.")),
    Dataset("blobs", "three blobs", make_blobs_data, "Three Gaussian clusters (sklearn make_blobs), three classes.",
            _params(1.0, 3.0, "Standard deviation of each cluster."), n_classes=3),
    Dataset("spiral", "spiral", make_spiral_data, "Two interleaved spiral arms: the hardest boundary here.",
            _params(0.05, 1.0, "Standard deviation of the Gaussian noise added to the points.")),
    Dataset("xor", "XOR", make_xor_data, "Opposite quadrants share a class (the XOR problem).",
            _params(0.1, 1.0, "Standard deviation of the Gaussian noise added after labelling.")),
    Dataset("sine", "noisy sine (regression)", make_sine_data, "Fit y = sin(2x) + noise from x: a 1-D regression (MSE loss).",
            _params(0.1, 1.0, "Standard deviation of the noise on y."), task="regression", n_classes=1, n_features=1),
]}


def get_dataset(name: str) -> Dataset:
    if name in DATASETS:
        return DATASETS[name]
    raise ConfigError("data.name", f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")


@dataclass(frozen=True)
class DataChoice:
    """Which dataset and how it is drawn."""

    name: str = "moons"
    n_points: int = 400
    noise: float = 0.2
    test_fraction: float = 0.25
    seed: int = 0

    @property
    def spec(self) -> Dataset:
        return get_dataset(self.name)

    @property
    def n_test(self) -> int:
        return int(round(self.n_points * self.test_fraction))

    @property
    def n_train(self) -> int:
        return self.n_points - self.n_test

    def to_dict(self) -> dict:
        return {"name": self.name, "n_points": self.n_points, "noise": self.noise,
                "test_fraction": self.test_fraction, "seed": self.seed}


@dataclass(frozen=True)
class Split:
    """Training and test arrays (float64 features; int64 classes or float64 targets)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def parse_data(given: dict) -> DataChoice:
    """Validate the data options against the dataset's specs (caps included); errors name the field."""
    from optviz.core.specs import coerce

    if not isinstance(given, dict):
        raise ConfigError("data", f"expected an object, got {type(given).__name__}")
    spec = get_dataset(str(given.get("name", "moons")))
    names = ("name", *(p.name for p in spec.params))
    for k in given:
        if k not in names:
            raise ConfigError(f"data.{k}", f"unknown field; expected one of: {', '.join(names)}")
    values = {}
    for p in spec.params:
        fld = f"data.{p.name}"
        v = coerce(p, given.get(p.name, p.initial), fld)
        if not p.low <= v <= p.high:
            raise ConfigError(fld, f"must be between {p.low:g} and {p.high:g}, got {v:g}")
        values[p.name] = v
    choice = DataChoice(spec.key, **values)
    if min(choice.n_train, choice.n_test) < 5:
        raise ConfigError("data.test_fraction",
                          f"leaves {choice.n_train} training and {choice.n_test} test points; both need at least 5")
    return choice


def make_split(choice: DataChoice) -> Split:
    X, y = choice.spec.make(choice.n_points, choice.noise, choice.seed)
    return Split(*split_data(X, y, choice.test_fraction, choice.seed))


__all__ = ["DATASETS", "Dataset", "DataChoice", "Split", "get_dataset", "make_split", "parse_data", "MAX_POINTS"]
