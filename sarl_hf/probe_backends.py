"""The two implementations of the linear probe's fits: torch (the default) and scikit-learn
(the cross-check). Both fit on standardised features and return predictions for every
L2 strength of the grid, so that the protocol (``sarl_hf.probe``) selects on validation.

Objective for an L2 strength ``alpha``, as scikit-learn states it:
classification ``Σ_i CE_i + alpha/2 ‖W‖²`` (``LogisticRegression(C=1/alpha)``; the
intercept is not penalised) and regression ``Σ_i ‖y_i − x_i W − b‖² + alpha ‖W‖²``
(``Ridge(alpha)``).
"""

from __future__ import annotations

import contextlib

import numpy as np

BACKENDS = ("torch", "sklearn")
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


def _torch_dtype(dtype: str):
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[dtype]


def torch_classify(x_train, y_train, evaluate, alphas, num_classes: int, device="cpu",
                   dtype="float32", max_iter: int = 100):
    """Softmax regression for every alpha (strongest first, each fit warm-starting the
    next) with L-BFGS; returns, per alpha, the predicted classes of each array in
    ``evaluate``.

    Parameters
    ----------
    x_train : ndarray (n, d)
        Standardised features.
    y_train : ndarray (n,) of int
    evaluate : list of ndarray (m, d)
    alphas : sequence of float
    num_classes : int

    Returns
    -------
    list (one per alpha, in the order of ``alphas``) of list of ndarray (m,) int
    """
    with cpu_threads_for(np.size(x_train), device):
        return _torch_classify(x_train, y_train, evaluate, alphas, num_classes, device, dtype,
                               max_iter)


def _torch_classify(x_train, y_train, evaluate, alphas, num_classes, device, dtype, max_iter):
    import torch

    kind = _torch_dtype(dtype)
    x = torch.as_tensor(x_train, dtype=kind, device=device)
    y = torch.tensor(np.asarray(y_train), dtype=torch.int64, device=device)
    n, d = x.shape
    weight = torch.zeros(d, num_classes, dtype=kind, device=device, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=kind, device=device, requires_grad=True)
    predictions = {}
    for index in np.argsort(alphas)[::-1]:  # strongest first: warm starts converge fast
        alpha = float(alphas[index])
        optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter,
                                      tolerance_grad=1e-6, tolerance_change=1e-9,
                                      history_size=20, line_search_fn="strong_wolfe")

        def closure():
            optimiser.zero_grad()
            logits = x @ weight + bias
            loss = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
            loss = (loss + 0.5 * alpha * (weight * weight).sum()) / n
            loss.backward()
            return loss

        optimiser.step(closure)
        with torch.no_grad():
            predictions[index] = [
                (torch.as_tensor(e, dtype=kind, device=device) @ weight + bias)
                .argmax(1).cpu().numpy() for e in evaluate]
    return [predictions[i] for i in range(len(alphas))]


def torch_regress(x_train, targets, evaluate, alphas, device="cpu", dtype="float64"):
    """Ridge for every alpha and every target column from one eigendecomposition.

    Parameters
    ----------
    x_train : ndarray (n, d)
        Standardised features (mean 0 on train).
    targets : ndarray (n, t)
    evaluate : list of ndarray (m, d)
    alphas : sequence of float

    Returns
    -------
    list (one per alpha) of list of ndarray (m, t)
    """
    with cpu_threads_for(np.size(x_train), device):
        return _torch_regress(x_train, targets, evaluate, alphas, device, dtype)


def _torch_regress(x_train, targets, evaluate, alphas, device, dtype):
    import torch

    kind = _torch_dtype(dtype)
    x = torch.as_tensor(x_train, dtype=kind, device=device)
    y = torch.as_tensor(targets, dtype=kind, device=device)
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    eigenvalues, vectors = torch.linalg.eigh(xc.T @ xc)
    projected = vectors.T @ (xc.T @ yc)  # (d, t)
    out = []
    for alpha in alphas:
        weight = vectors @ (projected / (eigenvalues.clamp_min(0) + float(alpha))[:, None])
        bias = y_mean - x_mean @ weight
        out.append([(torch.as_tensor(e, dtype=kind, device=device) @ weight + bias)
                    .cpu().numpy() for e in evaluate])
    return out


def sklearn_classify(x_train, y_train, evaluate, alphas, num_classes: int, **_):
    """The same as :func:`torch_classify` with ``LogisticRegression(C=1/alpha)``."""
    from sklearn.linear_model import LogisticRegression

    out = []
    for alpha in alphas:
        model = LogisticRegression(C=1.0 / float(alpha), max_iter=5000, tol=1e-6)
        model.fit(x_train, y_train)
        out.append([model.predict(e) for e in evaluate])
    return out


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
