"""The MLP probe: the protocol of ``sarl_hf.probing.protocol`` with one hidden layer instead of a
linear model (``probe(..., model="mlp")``).

Each task gets its own network, ``x → ReLU(x W₁ + b₁) W₂ + b₂`` with ``hidden`` units;
the tasks' networks are trained side by side (their first layers form one matrix product)
but share nothing. Objective for an L2 strength ``alpha``, on the same scale as the linear
probe's: classification ``Σ_i CE_i + alpha/2 (‖W₁‖² + ‖W₂‖²)``; regression
``Σ_i ‖y_i − f(x_i)‖² + alpha (‖W₁‖² + ‖W₂‖²)`` on targets standardised with the train
statistics (predictions are mapped back). Every strength starts from the same seeded
initialisation and runs full-batch L-BFGS for at most ``max_iter`` steps, so a fit is
deterministic and independent of the order of the grid.

Cost: each step multiplies the (n, d) features by a (d, T·hidden) matrix, T·hidden/width
times the linear probe's work; on a CPU this suits corpora of a few thousand scenes, a
GPU (``device="cuda"``) the full corpus.
"""

from __future__ import annotations

import numpy as np

from .backends import cpu_threads_for, torch_dtype

#: Hidden units per task network.
HIDDEN = 256
#: L-BFGS steps per strength at most.
MAX_ITER = 200


def _networks(d: int, outputs: list, hidden: int, seed: int, kind, device):
    """Seeded parameters of one network per entry of ``outputs`` (output sizes): the first
    layers side by side (d, T·hidden), the second layers as a list."""
    import torch

    generator = torch.Generator().manual_seed(int(seed))

    def uniform(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        values = (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
        return values.to(kind).to(device).requires_grad_()

    first = uniform((d, len(outputs) * hidden), d)
    first_bias = torch.zeros(len(outputs) * hidden, dtype=kind, device=device,
                             requires_grad=True)
    second = [uniform((hidden, k), hidden) for k in outputs]
    second_bias = [torch.zeros(k, dtype=kind, device=device, requires_grad=True)
                   for k in outputs]
    return first, first_bias, second, second_bias


def _forward(x, params, hidden: int):
    """Outputs of every task network, a list of (n, k_t)."""
    import torch

    first, first_bias, second, second_bias = params
    h = torch.relu(x @ first + first_bias)
    return [h[:, t * hidden:(t + 1) * hidden] @ w + b
            for t, (w, b) in enumerate(zip(second, second_bias))]


def _fit(x, loss_of, outputs, alpha, hidden, seed, max_iter, kind, device, penalty_scale):
    """Train the side-by-side networks on ``loss_of(outputs list)`` + the L2 penalty."""
    import torch

    params = _networks(x.shape[1], outputs, hidden, seed, kind, device)
    flat = [params[0], params[1], *params[2], *params[3]]
    weights = [params[0], *params[2]]
    optimiser = torch.optim.LBFGS(flat, lr=1.0, max_iter=max_iter, tolerance_grad=1e-6,
                                  tolerance_change=1e-9, history_size=20,
                                  line_search_fn="strong_wolfe")
    n = len(x)

    def closure():
        optimiser.zero_grad()
        loss = loss_of(_forward(x, params, hidden))
        loss = (loss + penalty_scale * alpha * sum((w * w).sum() for w in weights)) / n
        loss.backward()
        return loss

    optimiser.step(closure)
    return params


def mlp_classify(x_train, y_train, evaluate, alphas, num_classes, device="cpu",
                 dtype="float32", hidden: int = HIDDEN, max_iter: int = MAX_ITER,
                 seed: int = 0, **_):
    """One-hidden-layer softmax classifiers, one per task column, for every alpha.

    Parameters
    ----------
    x_train : ndarray (n, d)
        Standardised features.
    y_train : ndarray (n, T) of int
    evaluate : list of ndarray (m, d)
    alphas : sequence of float
    num_classes : sequence of int (T,)
    hidden, max_iter, seed : int

    Returns
    -------
    list (one per alpha) of list of ndarray (m, T) int
    """
    import torch


    kind = torch_dtype(dtype)
    x = torch.as_tensor(x_train, dtype=kind, device=device)
    y = torch.as_tensor(np.asarray(y_train).reshape(len(x), -1), dtype=torch.int64,
                        device=device)
    others = [torch.as_tensor(e, dtype=kind, device=device) for e in evaluate]

    def loss_of(outputs):
        return sum(torch.nn.functional.cross_entropy(o, y[:, t], reduction="sum")
                   for t, o in enumerate(outputs))

    out = []
    with cpu_threads_for(np.size(x_train) * len(num_classes), device):
        for alpha in alphas:
            params = _fit(x, loss_of, list(num_classes), float(alpha), hidden, seed, max_iter,
                          kind, device, 0.5)
            with torch.no_grad():
                out.append([np.stack([o.argmax(1).cpu().numpy()
                                      for o in _forward(e, params, hidden)], axis=1)
                            for e in others])
    return out


def mlp_regress(x_train, targets, evaluate, alphas, device="cpu", dtype="float32",
                hidden: int = HIDDEN, max_iter: int = MAX_ITER, seed: int = 0, **_):
    """One-hidden-layer regressors, one per target column, for every alpha.

    Parameters
    ----------
    x_train : ndarray (n, d)
        Standardised features.
    targets : ndarray (n, t)
    evaluate : list of ndarray (m, d)
    alphas : sequence of float
    hidden, max_iter, seed : int

    Returns
    -------
    list (one per alpha) of list of ndarray (m, t)
    """
    import torch


    kind = torch_dtype(dtype)
    targets = np.asarray(targets, dtype=np.float64).reshape(len(x_train), -1)
    mean, std = targets.mean(0), targets.std(0)
    std[std == 0] = 1.0
    x = torch.as_tensor(x_train, dtype=kind, device=device)
    y = torch.as_tensor((targets - mean) / std, dtype=kind, device=device)
    others = [torch.as_tensor(e, dtype=kind, device=device) for e in evaluate]

    def loss_of(outputs):
        return sum(((o[:, 0] - y[:, t]) ** 2).sum() for t, o in enumerate(outputs))

    out = []
    with cpu_threads_for(np.size(x_train) * y.shape[1], device):
        for alpha in alphas:
            params = _fit(x, loss_of, [1] * y.shape[1], float(alpha), hidden, seed, max_iter,
                          kind, device, 1.0)
            with torch.no_grad():
                out.append([torch.cat(_forward(e, params, hidden), 1).double().cpu().numpy()
                            * std + mean for e in others])
    return out
