"""The two implementations of the linear probe's fits: torch (the default) and scikit-learn
(the cross-check). Both fit on standardised features and return predictions for every
L2 strength of the grid, so that the protocol (``sarl_hf.probing.protocol``) selects on validation.

The torch backend fits every task of a layer at once (one softmax problem per task,
side by side) and shares one eigendecomposition of the train features between the
classifiers and the ridge regressors. Objective for an L2 strength ``alpha``, as
scikit-learn states it:
classification ``Σ_i CE_i + alpha/2 ‖W‖²`` (``LogisticRegression(C=1/alpha)``; the
intercept is not penalised) and regression ``Σ_i ‖y_i − x_i W − b‖² + alpha ‖W‖²``
(``Ridge(alpha)``).
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np

from .lbfgs import minimise_blocks
from .newton import fits_newton
from .softmax import ScaledSoftmax
from .softmax import SoftmaxObjective
from .softmax import tied_argmax

BACKENDS = ("torch", "sklearn")
#: The torch classifier's solvers (:func:`torch_classify`).
SOLVERS = ("newton", "lbfgs")
#: Below this many feature values, fits run on one CPU thread: threads only add
#: synchronisation there, and on a busy machine their spin-waits made small fits 10× slower.
SMALL_PROBLEM = 2_000_000


@contextlib.contextmanager
def cpu_threads_for(num_values: int, device: str):
    """One torch CPU thread for small problems (restored afterwards); no change otherwise."""
    import torch

    if str(device) != "cpu" or num_values >= SMALL_PROBLEM:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def torch_dtype(dtype: str):
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[dtype]


class Basis(NamedTuple):
    """Principal axes of the centred train features, shared by every fit of one layer.

    Attributes
    ----------
    mean : tensor (d,)
        Train mean (float64).
    eigenvalues : tensor (d,)
        Eigenvalues of ``xcᵀ xc`` (not divided by n), ascending (float64).
    vectors : tensor (d, d)
        The matching eigenvectors in columns (float64).
    """

    mean: object
    eigenvalues: object
    vectors: object


def principal_basis(x_train, device="cpu") -> Basis:
    """The :class:`Basis` of ``x_train`` (n, d): one eigendecomposition of ``xcᵀ xc``."""
    import torch

    with cpu_threads_for(np.size(x_train), device):
        x = torch.as_tensor(x_train, dtype=torch.float64, device=device)
        mean = x.mean(0)
        xc = x - mean
        eigenvalues, vectors = torch.linalg.eigh(xc.T @ xc)
    return Basis(mean, eigenvalues, vectors)


#: Convergence of each task's classifier: the largest absolute entry of the gradient of its
#: own objective (mean cross-entropy + penalty, as scikit-learn's ``tol`` measures it).
GRAD_TOL = 1e-7
#: ... or the relative decrease of its objective in one step.
LOSS_TOL = 1e-12
#: Principal axes whose train variance is at most this share of the largest are left out
#: of the classifiers' fit (their weight is zero at the optimum).
RANK_TOL = 1e-10
#: Steps per strength at most (a task still short of GRAD_TOL then is reported).
MAX_STEPS = 3000


def torch_classify(x_train, y_train, evaluate, alphas, num_classes, device="cpu",
                   dtype="float64", max_steps: int = MAX_STEPS, basis: Basis | None = None,
                   report: dict | None = None, solver: str = "newton"):
    """Softmax regression of every task column for every alpha, with Newton's method.

    The tasks' classifiers are independent problems on the same features, so they are
    fitted together (:func:`~.lbfgs.minimise_blocks`): one pair of matrix products per
    step serves every task still moving, and gradients and Hessian products are written
    out rather than taken by autograd. Each task keeps its own step length and
    convergence test (its gradient below :data:`GRAD_TOL`, float64; float32 reaches 100
    times that), so the joint fit ends where per-task fits would. Newton's step solves
    with the exact Hessian where that is cheap (:func:`~.newton.fits_newton`), else by
    conjugate gradients (Newton–CG, as scikit-learn's ``newton-cg`` solver), preconditioned
    by a Kronecker-factored inverse of each task's Hessian
    (:func:`~.newton.softmax_kronecker_preconditioner`, built at each strength's first
    step), each task's products stopping with its own solve. The fit runs
    in the principal basis of the features, each axis and class rescaled by the square
    root of its expected curvature (``variance / num_classes + alpha / n``); the optimum is
    the same as without this change of variables. Strengths run strongest first, each fit
    warm-starting the next.

    Parameters
    ----------
    x_train : ndarray (n, d)
        Standardised features.
    y_train : ndarray (n, T) of int
        One column of class indices per task.
    evaluate : list of ndarray (m, d)
    alphas : sequence of float
    num_classes : sequence of int (T,)
    dtype : {"float64", "float32"}
    max_steps : int
        Steps per strength at most.
    basis : Basis, optional
        :func:`principal_basis` of ``x_train``, if already computed.
    report : dict, optional
        Filled with ``steps`` (per alpha) and ``gradient`` (per alpha, the largest
        per-task gradient at the end), in the order of ``alphas``.
    solver : {"newton", "lbfgs"}
        ``"lbfgs"`` (batched L-BFGS, the fit before Newton's) is kept for comparison: it
        reaches the same optimum in many more steps.

    Returns
    -------
    list (one per alpha, in the order of ``alphas``) of list of ndarray (m, T) int
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    with cpu_threads_for(np.size(x_train), device):
        return _torch_classify(x_train, y_train, evaluate, alphas, list(num_classes), device,
                               dtype, max_steps, basis or principal_basis(x_train, device),
                               report if report is not None else {}, solver)


def _rotated(arrays, basis: Basis, kind, device):
    import torch

    mean, vectors = basis.mean.to(kind), basis.vectors.to(kind)
    return [(torch.as_tensor(a, dtype=kind, device=device) - mean) @ vectors for a in arrays]


def _torch_classify(x_train, y_train, evaluate, alphas, num_classes, device, dtype, max_steps,
                    basis, report, solver):
    import torch

    kind = torch_dtype(dtype)
    tolerance = GRAD_TOL if kind == torch.float64 else 100 * GRAD_TOL
    # axes without train variance get zero weight at the optimum: fit on the others only
    rank = basis.eigenvalues > RANK_TOL * basis.eigenvalues.abs().max().clamp_min(1e-300)
    z, *z_evaluate = [a[:, rank] for a in _rotated([x_train, *evaluate], basis, kind, device)]
    y = torch.as_tensor(np.asarray(y_train).reshape(len(z), -1), dtype=torch.int64,
                        device=device)
    objective = SoftmaxObjective(z, y, num_classes, kind)
    n, d = z.shape
    exact = solver == "newton" and fits_newton(n, d, num_classes)
    variance = (basis.eigenvalues[rank] / n).to(kind)[:, None]
    weight = torch.zeros(d, objective.width, dtype=kind, device=device)
    bias = torch.zeros(objective.width, dtype=kind, device=device)
    predictions, steps, gradients = {}, {}, {}
    for index in np.argsort(alphas)[::-1]:  # strongest first: warm starts converge fast
        alpha = float(alphas[index])
        scale = torch.sqrt(variance * objective.curvature + alpha / n)
        theta = torch.cat([weight * scale, bias[None]])
        theta, steps[index], measure = minimise_blocks(
            ScaledSoftmax(objective, scale, alpha, exact, tolerance), theta, len(num_classes),
            grad_tol=tolerance, loss_tol=LOSS_TOL, max_steps=max_steps,
            newton=solver == "newton")
        weight, bias = theta[:-1] / scale, theta[-1]
        gradients[index] = float(measure.max())
        predictions[index] = [objective.predict(e, weight, bias) for e in z_evaluate]
    report.update(steps=[steps[i] for i in range(len(alphas))],
                  gradient=[gradients[i] for i in range(len(alphas))])
    return [predictions[i] for i in range(len(alphas))]


def torch_regress(x_train, targets, evaluate, alphas, device="cpu", dtype="float64",
                  basis: Basis | None = None, **_):
    """Ridge for every alpha and every target column from one eigendecomposition.

    Parameters
    ----------
    x_train : ndarray (n, d)
        Standardised features.
    targets : ndarray (n, t)
    evaluate : list of ndarray (m, d)
    alphas : sequence of float
    basis : Basis, optional
        :func:`principal_basis` of ``x_train``, if already computed.

    Returns
    -------
    list (one per alpha) of list of ndarray (m, t)
    """
    with cpu_threads_for(np.size(x_train), device):
        return _torch_regress(x_train, targets, evaluate, alphas, device, dtype,
                              basis or principal_basis(x_train, device))


def _torch_regress(x_train, targets, evaluate, alphas, device, dtype, basis):
    import torch

    kind = torch_dtype(dtype)
    z, *z_evaluate = _rotated([x_train, *evaluate], basis, kind, device)
    y = torch.as_tensor(targets, dtype=kind, device=device)
    y_mean = y.mean(0)
    projected = z.T @ (y - y_mean)  # (d, t): the targets on the principal axes
    eigenvalues = basis.eigenvalues.clamp_min(0).to(kind)[:, None]
    out = []
    for alpha in alphas:
        weight = projected / (eigenvalues + float(alpha))
        out.append([(e @ weight + y_mean).cpu().numpy() for e in z_evaluate])
    return out


#: scikit-learn's ``tol`` in the cross-check (Newton–CG stops when the largest absolute
#: gradient entry is below it, the measure of :data:`GRAD_TOL`): ten times tighter, so that
#: the reference is the more exact of the two.
SKLEARN_TOL = 1e-8
#: Its solver. Newton–CG, not the default L-BFGS: scipy's L-BFGS also stops when the
#: objective's relative change is below 64 machine epsilons, whatever ``tol`` says, and at
#: strong strengths, where balanced classes leave near-ties, it stopped after 3 iterations
#: one validation prediction away (a margin of 3e-6) from the optimum that Newton–CG and
#: the torch fit agree on.
SKLEARN_SOLVER = "newton-cg"


def sklearn_classify(x_train, y_train, evaluate, alphas, num_classes, **_):
    """The same as :func:`torch_classify` with one ``LogisticRegression(C=1/alpha,
    tol=SKLEARN_TOL, solver=SKLEARN_SOLVER)`` per task column and alpha."""
    from sklearn.linear_model import LogisticRegression

    y_train = np.asarray(y_train).reshape(len(x_train), -1)
    out = []
    for alpha in alphas:
        per_task = []
        for column in y_train.T:
            model = LogisticRegression(C=1.0 / float(alpha), max_iter=20000,
                                       tol=SKLEARN_TOL, solver=SKLEARN_SOLVER)
            per_task.append(model.fit(x_train, column))
        out.append([np.stack([sklearn_predict(m, e) for m in per_task], axis=1)
                    for e in evaluate])
    return out


def sklearn_predict(model, x) -> np.ndarray:
    """A fitted ``LogisticRegression``'s classes for ``x``, ties as the torch fit breaks them
    (:func:`~.softmax.tied_argmax`); a two-class model's score is the log-odds."""
    scores = model.decision_function(x)
    if scores.ndim == 1:
        scores = np.stack([np.zeros_like(scores), scores], axis=1)
    return model.classes_[tied_argmax(scores)]


def sklearn_regress(x_train, targets, evaluate, alphas, **_):
    """The same as :func:`torch_regress` with ``Ridge(alpha)``."""
    from sklearn.linear_model import Ridge

    out = []
    for alpha in alphas:
        model = Ridge(alpha=float(alpha)).fit(x_train, targets)
        out.append([np.atleast_2d(model.predict(e).reshape(len(e), -1)) for e in evaluate])
    return out


def backend_functions(backend: str):
    """(classify, regress) of a backend."""
    if backend == "torch":
        return torch_classify, torch_regress
    if backend == "sklearn":
        return sklearn_classify, sklearn_regress
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
