"""Newton steps for softmax probes: the exact Hessian where it is small, conjugate gradients
(Newton–CG) where it is not, and the same optimum as L-BFGS in a fraction of the steps."""

import numpy as np
import pytest
import torch

import sarl_hf.probing.backends as backends
from sarl_hf.probing.backends import GRAD_TOL, torch_classify
from sarl_hf.probing.newton import NEWTON_MAX_WORK, fits_newton, softmax_hessian_product
from sarl_hf.probing.newton import active_groups, softmax_kronecker_preconditioner
from sarl_hf.probing.newton import softmax_newton_cg_direction, softmax_newton_direction
from sarl_hf.probing.protocol import GRID


def _objective(theta, z1, y, k, alpha):
    """(Σ CE + alpha/2 ‖W‖²) / n of one task, parameters (rows, k) = [W; b]."""
    log_p = torch.log_softmax(z1 @ theta, 1)
    return (-log_p[torch.arange(len(y)), y].sum() + 0.5 * alpha * (theta[:-1] ** 2).sum()) / len(y)


def test_the_newton_step_solves_with_the_exact_hessian():
    rng = np.random.default_rng(0)
    n, rows, alpha = 30, 5, 0.7
    z1 = torch.tensor(np.c_[rng.standard_normal((n, rows - 1)), np.ones(n)])
    tasks = [(3, rng.integers(0, 3, n)), (3, rng.integers(0, 3, n)), (4, rng.integers(0, 4, n))]
    thetas = [torch.tensor(rng.standard_normal((rows, k))) for k, _ in tasks]
    gradients, probabilities, expected = [], [], []
    for (k, y), theta in zip(tasks, thetas):
        y = torch.tensor(y)
        hessian = torch.autograd.functional.hessian(
            lambda t: _objective(t, z1, y, k, alpha), theta).reshape(rows * k, rows * k)
        theta = theta.clone().requires_grad_()
        _objective(theta, z1, y, k, alpha).backward()
        gradients.append(theta.grad)
        probabilities.append(torch.softmax(z1 @ theta.detach(), 1))
        # the intercept's shift of all classes is flat: solve in the least-squares sense
        expected.append(-(torch.linalg.pinv(hessian) @ theta.grad.reshape(-1)).reshape(rows, k))
    penalty = torch.tensor([alpha / n] * (rows - 1) + [0.0], dtype=torch.float64)
    groups = [[0, 2, 3], [6, 1, 4]]  # two 3-class tasks side by side, then one of 4
    direction = softmax_newton_direction(z1, torch.cat(probabilities, 1), torch.cat(gradients, 1),
                                         penalty, groups)
    torch.testing.assert_close(direction, torch.cat(expected, 1), rtol=1e-6, atol=1e-8)


def _hessian_times(z1, y, k, alpha, theta, vector):
    hessian = torch.autograd.functional.hessian(
        lambda t: _objective(t, z1, torch.tensor(y), k, alpha), theta)
    return (hessian.reshape(theta.numel(), -1) @ vector.reshape(-1)).reshape(theta.shape)


def test_the_hessian_product_is_the_hessian_times_the_vector():
    rng = np.random.default_rng(2)
    n, rows, alpha = 40, 6, 3.0
    z1 = torch.tensor(np.c_[rng.standard_normal((n, rows - 1)), np.ones(n)])
    tasks = [(3, rng.integers(0, 3, n)), (3, rng.integers(0, 3, n)), (5, rng.integers(0, 5, n))]
    thetas = [torch.tensor(rng.standard_normal((rows, k))) for k, _ in tasks]
    vectors = [torch.tensor(rng.standard_normal((rows, k))) for k, _ in tasks]
    probabilities = torch.cat([torch.softmax(z1 @ t, 1) for t in thetas], 1)
    penalty = torch.tensor([alpha / n] * (rows - 1) + [0.0], dtype=torch.float64)
    product = softmax_hessian_product(z1, probabilities, torch.cat(vectors, 1), penalty,
                                      [[0, 2, 3], [6, 1, 5]])
    expected = [_hessian_times(z1, y, k, alpha, t, v) for (k, y), t, v in zip(tasks, thetas,
                                                                               vectors)]
    torch.testing.assert_close(product, torch.cat(expected, 1), rtol=1e-10, atol=1e-12)


def _softmax_state(rng, n, rows, classes, logit_scale):
    """Features with an intercept column, and class probabilities of random weights
    (tasks side by side, as SoftmaxObjective lays them out) with their groups."""
    z1 = torch.tensor(np.c_[rng.standard_normal((n, rows - 1)), np.ones(n)])
    probabilities = torch.cat([torch.softmax(logit_scale * z1 @ torch.tensor(
        rng.standard_normal((rows, k))), 1) for k in classes], 1)
    groups, first = [], 0
    for k in classes:
        if groups and groups[-1][2] == k:
            groups[-1][1] += 1
        else:
            groups.append([first, 1, k])
        first += k
    segments = torch.tensor(np.repeat(np.arange(len(classes)), classes))
    return z1, probabilities, groups, segments


def test_the_product_of_some_tasks_is_those_columns_of_the_full_product():
    rng = np.random.default_rng(4)
    z1, probabilities, groups, segments = _softmax_state(rng, 50, 6, [3, 3, 5], 1.0)
    vector = torch.tensor(rng.standard_normal((6, 11)))
    penalty = torch.full((6,), 0.1, dtype=torch.float64)
    full = softmax_hessian_product(z1, probabilities, vector, penalty, groups)
    columns = torch.tensor([3, 4, 5, 6, 7, 8, 9, 10])  # the second and third task
    kept = active_groups(groups, [False, True, True])
    assert kept == [[0, 1, 3], [3, 1, 5]]
    part = softmax_hessian_product(z1, probabilities[:, columns], vector[:, columns], penalty,
                                   kept)
    torch.testing.assert_close(part, full[:, columns], rtol=1e-12, atol=1e-14)


def test_the_kronecker_preconditioner_inverts_a_kronecker_hessian():
    """Where every row has the same class probabilities, the Hessian (with the penalty on
    every row) is exactly G ⊗ A + penalty I: the preconditioner is its inverse."""
    rng = np.random.default_rng(5)
    n, rows, k, penalty = 60, 5, 4, 0.03
    z1 = torch.tensor(np.c_[rng.standard_normal((n, rows - 1)), np.ones(n)])
    p = torch.softmax(torch.tensor(rng.standard_normal(k)), 0)
    probabilities = p[None, :].repeat(n, 1)
    inverse = softmax_kronecker_preconditioner(z1, probabilities, penalty, [[0, 1, k]])
    vector = torch.tensor(rng.standard_normal((rows, k)))
    product = softmax_hessian_product(z1, probabilities, vector,
                                      torch.full((rows,), penalty, dtype=torch.float64),
                                      [[0, 1, k]])
    torch.testing.assert_close(inverse(product), vector, rtol=1e-8, atol=1e-10)


def test_preconditioned_cg_needs_fewer_hessian_products_to_the_same_forcing_term():
    """Confident, unequal probabilities (a weak penalty late in a fit): the Kronecker
    preconditioner cuts the products that conjugate gradients needs, and each task's
    residual still meets its forcing term."""
    rng = np.random.default_rng(6)
    n, rows, classes, alpha = 400, 13, [4, 4, 8], 1e-2
    z1, probabilities, groups, segments = _softmax_state(rng, n, rows, classes, 2.0)
    penalty = torch.tensor([alpha / n] * (rows - 1) + [0.0], dtype=torch.float64)
    gradient = torch.tensor(rng.standard_normal((rows, sum(classes)))) * 1e-3
    for first, tasks, k in groups:  # no part along each task's flat direction
        block = gradient[-1, first:first + tasks * k].view(tasks, k)
        block -= block.mean(1, keepdim=True)
    counts = {}
    for name, preconditioner in (("plain", None), ("kronecker", softmax_kronecker_preconditioner(
            z1, probabilities, alpha / n, groups))):
        calls = []

        def product(vector, active=None, calls=calls):
            calls.append(1)
            return softmax_hessian_product(z1, probabilities, vector, penalty, groups)

        direction = softmax_newton_cg_direction(product, gradient, segments, 3,
                                                max_iterations=2000,
                                                preconditioner=preconditioner)
        residual = softmax_hessian_product(z1, probabilities, direction, penalty, groups) \
            + gradient
        for t in range(3):
            g = gradient[:, segments == t].norm()
            assert residual[:, segments == t].norm() <= min(0.5, float(g.sqrt())) * g * 1.0001
        counts[name] = len(calls)
    assert counts["kronecker"] < 0.5 * counts["plain"], counts


def test_newton_cg_meets_each_tasks_forcing_term():
    rng = np.random.default_rng(3)
    rows, width = 7, 6
    segments = torch.tensor([0, 0, 0, 1, 1, 1])
    blocks = []
    for condition in (1.0, 1e4):  # a well and a badly conditioned task
        q, _ = np.linalg.qr(rng.standard_normal((rows * 3, rows * 3)))
        blocks.append(q @ np.diag(np.geomspace(1.0, 1.0 / condition, rows * 3)) @ q.T)

    def product(vector, active=None):
        out = torch.empty_like(vector)
        for t, h in enumerate(blocks):
            part = vector[:, 3 * t:3 * t + 3].reshape(-1)
            out[:, 3 * t:3 * t + 3] = (torch.tensor(h) @ part).reshape(rows, 3)
        return out

    for size in (1.0, 1e-6):
        gradient = size * torch.tensor(rng.standard_normal((rows, width)))
        direction = softmax_newton_cg_direction(product, gradient, segments, 2,
                                                max_iterations=1000)
        residual = product(direction) + gradient
        for t in range(2):
            g = gradient[:, 3 * t:3 * t + 3].norm()
            assert residual[:, 3 * t:3 * t + 3].norm() <= min(0.5, float(g.sqrt())) * g
            assert (gradient * direction)[:, 3 * t:3 * t + 3].sum() < 0  # downhill


@pytest.mark.parametrize("n, d", [(24, 60), (40, 6)])  # fewer rows than features, and more
def test_exact_newton_newton_cg_and_lbfgs_reach_the_same_optimum(n, d, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d))
    x = (x - x.mean(0)) / x.std(0)
    y = np.stack([rng.integers(0, k, n) for k in (4, 4, 8)], 1)
    y[:8, 2] = np.arange(8)
    held_out = rng.standard_normal((300, d))
    fits, steps = {}, {}
    for path, exact, solver in (("exact", True, "newton"), ("cg", False, "newton"),
                                ("lbfgs", False, "lbfgs")):
        monkeypatch.setattr(backends, "fits_newton", lambda *_, use=exact: use)
        report = {}
        fits[path] = torch_classify(x, y, [held_out], GRID, [4, 4, 8], report=report,
                                    solver=solver)
        assert max(report["gradient"]) <= GRAD_TOL or solver == "lbfgs"
        steps[path] = sum(report["steps"])
    assert steps["exact"] * 5 < steps["lbfgs"], steps  # L-BFGS: hundreds of steps
    assert steps["cg"] * 3 < steps["lbfgs"], steps
    for exact, cg, lbfgs in zip(fits["exact"], fits["cg"], fits["lbfgs"]):
        # 300 held-out rows × 3 tasks per strength; both Newton paths end below GRAD_TOL;
        # L-BFGS ends where its objective stops falling, so a row on a near-tie may differ
        assert (exact[0] != cg[0]).sum() == 0
        assert (exact[0] != lbfgs[0]).sum() <= 1


def test_an_unknown_solver_is_refused():
    with pytest.raises(ValueError, match="solver must be one of"):
        torch_classify(np.eye(4), np.arange(4)[:, None] % 2, [np.eye(4)], [1.0], [2],
                       solver="sgd")


def test_newton_is_chosen_where_its_work_is_small():
    assert fits_newton(30, 17, [8, 4])  # a tiny corpus: 144 parameters per task
    assert not fits_newton(20_000, 767, [8])  # a full corpus: Newton–CG
    assert not fits_newton(600, 64, [8])  # 520 parameters on 600 rows: past the limit
    parameters = 256
    assert fits_newton(0, parameters // 8 - 1, [8]) == (parameters ** 3 <= NEWTON_MAX_WORK)


def test_a_constant_feature_matrix_fits_the_intercepts_alone():
    x = np.zeros((12, 5))
    y = np.stack([np.arange(12) % 3, np.r_[np.zeros(9), np.ones(3)].astype(int)], 1)
    report = {}
    (predicted,), = torch_classify(x, y, [np.zeros((4, 5))], [1.0], [3, 2], report=report)
    assert predicted[:, 1].tolist() == [0] * 4  # the majority class
    assert max(report["gradient"]) <= GRAD_TOL


def test_the_float32_products_see_no_subnormal_probabilities(monkeypatch):
    """Near-separable classes drive probabilities below float32's smallest normal number;
    such subnormal floats make every product they enter tens of times slower on a CPU.
    The products see them as zero (they weigh less than 1e-20), and the fit still ends
    below GRAD_TOL."""
    import sarl_hf.probing.softmax as softmax

    rng = np.random.default_rng(7)
    n, d = 300, 12
    x = rng.standard_normal((n, d))
    y = (x @ rng.standard_normal((d, 4))).argmax(1)[:, None]  # separable, wide margins
    x = (x - x.mean(0)) / x.std(0)
    monkeypatch.setattr(backends, "fits_newton", lambda *_: False)
    smallest = {}
    for floor in (0.0, softmax.PROBABILITY_FLOOR):
        seen = []

        def spy(z1, probabilities, *args, seen=seen):
            seen.append(float(probabilities[probabilities > 0].min()))
            return softmax_hessian_product(z1, probabilities, *args)

        monkeypatch.setattr(softmax, "softmax_hessian_product", spy)
        monkeypatch.setattr(softmax, "PROBABILITY_FLOOR", floor)
        report = {}
        torch_classify(x, y, [x], GRID[:3], [4], report=report)
        assert max(report["gradient"]) <= GRAD_TOL
        smallest[floor] = min(seen)
    assert smallest[0.0] < torch.finfo(torch.float32).tiny  # they occur in this fit
    assert smallest[softmax.PROBABILITY_FLOOR] >= softmax.PROBABILITY_FLOOR
