"""Loss landscapes: PCA of the weight path (sklearn's PCA as the oracle), filter-normalised planes, the loss grid, sharing."""
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from optviz.core.specs import ConfigError
from optviz.nets.landscape import explained_ratio, filter_normalised_directions, landscape, loss_grid, pca_directions, project
from optviz.nets.model import build_model
from optviz.nets.training import train

CONFIG = {"data": {"n_points": 160}, "epochs": 12}


@pytest.fixture(scope="module")
def trace():
    return train(CONFIG)


@pytest.fixture(scope="module")
def adam():
    return train({**CONFIG, "optimizer": {"name": "Adam", "options": {"lr": 0.01}}})


def test_pca_plane_puts_the_final_weights_at_the_origin(trace):
    land = landscape(trace, n_grid=9)
    path = land.paths[0]
    assert path.shape == (len(trace.snapshots), 2)
    np.testing.assert_allclose(path[-1], 0.0, atol=1e-12)
    assert np.all((land.explained >= 0) & (land.explained <= 1)) and land.explained.sum() <= 1 + 1e-12
    assert land.explained[0] >= land.explained[1]
    assert land.losses.shape == (9, 9) and np.isfinite(land.losses).all()
    assert abs(land.alphas).max() >= abs(path[:, 0]).max() and abs(land.betas).max() >= abs(path[:, 1]).max()


def test_pca_matches_sklearn(trace):
    deltas = trace.snapshots - trace.final_weights
    dirs, ratio = pca_directions(deltas)
    ref = PCA(n_components=2).fit(deltas)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-9)
    np.testing.assert_allclose(np.abs(dirs @ ref.components_.T), np.eye(2), atol=1e-8)   # same directions up to sign
    np.testing.assert_allclose(dirs @ dirs.T, np.eye(2), atol=1e-12)


def test_pca_of_a_known_spread():
    rng = np.random.default_rng(0)
    u, v = np.eye(6)[1], np.eye(6)[4]
    a, b = rng.normal(size=(2, 400))
    a, b = a - a.mean(), b - b.mean()
    b -= (a @ b) / (a @ a) * a          # uncorrelated: the sample covariance is diagonal in (u, v)
    deltas = np.outer(3 * a, u) + np.outer(b, v)
    dirs, ratio = pca_directions(deltas)
    assert abs(abs(dirs[0] @ u) - 1) < 1e-12 and abs(abs(dirs[1] @ v) - 1) < 1e-12
    np.testing.assert_allclose(ratio, [9 * a.var() / (9 * a.var() + b.var()), b.var() / (9 * a.var() + b.var())], rtol=1e-9)
    np.testing.assert_allclose(explained_ratio(deltas, dirs), ratio, rtol=1e-9)
    np.testing.assert_allclose(pca_directions(np.zeros((5, 6)))[1], 0.0)


def test_projection_recovers_points_in_the_plane():
    rng = np.random.default_rng(1)
    dirs = rng.normal(size=(2, 30))
    coef = rng.normal(size=(7, 2))
    np.testing.assert_allclose(project(coef @ dirs, dirs), coef, atol=1e-10)


def test_filter_normalised_directions(trace):
    dirs = filter_normalised_directions(trace, seed=3)
    model = build_model(trace.config)
    i = 0
    final = torch.as_tensor(trace.final_weights)
    for p in model.parameters():
        n = p.numel()
        for d in dirs:
            part = torch.as_tensor(d[i: i + n]).reshape(p.shape)
            w = final[i: i + n].reshape(p.shape)
            if p.dim() == 1:
                assert torch.all(part == 0)          # biases get no component
            else:
                torch.testing.assert_close(part.norm(dim=1), w.norm(dim=1), rtol=1e-6, atol=1e-9)
        i += n
    land = landscape(trace, "random", n_grid=7)
    assert np.all((land.explained >= 0) & (land.explained <= 1))
    np.testing.assert_allclose(land.paths[0][-1], 0.0, atol=1e-12)
    assert land.alphas.max() >= 1.0


def test_the_grid_is_the_training_loss(trace):
    dirs, _ = pca_directions(trace.snapshots - trace.final_weights)
    zero = np.array([0.0])
    grid = loss_grid(trace, trace.final_weights, dirs, zero, zero)
    np.testing.assert_allclose(grid[0, 0], trace.train_loss[-1], rtol=1e-12)
    start = project(trace.snapshots[:1] - trace.final_weights, dirs)[0]
    inplane = loss_grid(trace, trace.final_weights, dirs, start[:1], start[1:])
    assert inplane[0, 0] > trace.train_loss[-1]     # the start, seen in the plane, is higher than the end


def test_two_runs_share_a_plane(trace, adam):
    land = landscape(trace, other=adam, labels=("SGD", "Adam"), n_grid=7)
    a, b = land.paths
    np.testing.assert_allclose(a[0], b[0], atol=1e-9)       # the same initial weights
    np.testing.assert_allclose(a[-1], 0.0, atol=1e-12)
    assert np.linalg.norm(b[-1]) > 1e-3 and land.labels == ("SGD", "Adam")
    other_data = train({**CONFIG, "data": {"n_points": 160, "seed": 1}, "epochs": 2})
    with pytest.raises(ConfigError) as e:
        landscape(trace, other=other_data)
    assert e.value.field == "compare"


@pytest.mark.parametrize("kwargs,field", [({"method": "hessian"}, "landscape.method"), ({"n_grid": 1000}, "landscape.n_grid")])
def test_bad_landscape_options(trace, kwargs, field):
    with pytest.raises(ConfigError) as e:
        landscape(trace, **kwargs)
    assert e.value.field == field
