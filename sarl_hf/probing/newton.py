"""Newton directions for small softmax probes.

A probe fitted on few rows, or on few principal axes, has few parameters per task
(``(rank + 1) · classes``); there L-BFGS needs hundreds of cheap steps at weak strengths
(near-separable data is ill-conditioned), while Newton's method, whose step solves with
the exact Hessian, needs about ten. :func:`fits_newton` says where a Newton step is the
cheaper one; :func:`softmax_newton_direction` gives the steps of every task at once
(tasks with equal class counts share one batched solve). The optimum is the same: only
the path to it changes.

Hessian of task ``t``'s objective ``(Σ_i CE_i + alpha/2 ‖W‖²) / n`` in the parameters
``[W; b]`` (rows: features then the intercept; columns: classes):
``(1/n) Σ_i (z_i z_iᵀ) ⊗ (diag(p_i) − p_i p_iᵀ) + (alpha/n) I`` on the weights, where
``z_i`` is row ``i`` with a trailing 1 and ``p_i`` its class probabilities.
"""

from __future__ import annotations

#: Newton steps are used where a task's ``n · p² + p³`` (``p`` = its parameter count) is at
#: most this: the floating-point work of one Hessian and its solve.
NEWTON_MAX_WORK = 2 ** 24


def fits_newton(num_rows: int, rank: int, num_classes) -> bool:
    """Whether Newton steps suit a softmax probe of ``num_rows`` rows on ``rank`` axes."""
    parameters = (rank + 1) * max(num_classes)
    return num_rows * parameters ** 2 + parameters ** 3 <= NEWTON_MAX_WORK


def softmax_newton_direction(z1, probabilities_t, gradient, penalty, groups):
    """The Newton step of every task's softmax problem.

    Parameters
    ----------
    z1 : tensor (n, r + 1)
        Features with a trailing column of ones (the intercept).
    probabilities_t : tensor (width, n)
        Class probabilities at the current point, tasks side by side (as
        ``_SoftmaxObjective`` lays out its logits).
    gradient : tensor (r + 1, width)
        The gradient of each task's objective, same layout.
    penalty : tensor (r + 1,)
        The penalty's curvature per row (``alpha / n`` on weights, 0 on the intercept).
    groups : list of (first column, number of tasks, classes)
        Runs of tasks with equal class counts, as ``_SoftmaxObjective.groups``.

    Returns
    -------
    tensor (r + 1, width)
        ``−H⁻¹ g`` per task, with no part along the one flat direction (the shift of all
        classes' intercepts, which changes no probability; a vanishing damping keeps the
        solve regular, and that part of its answer is removed).
    """
    import torch

    n, rows = z1.shape
    direction = torch.empty_like(gradient)
    for first, tasks, k in groups:
        columns = slice(first, first + tasks * k)
        p = probabilities_t[columns].reshape(tasks, k, n).transpose(1, 2)  # (T, n, k)
        q = (z1[None, :, :, None] * p[:, :, None, :]).reshape(tasks, n, rows * k)
        outer = torch.einsum("ia,ib,tic->tacb", z1, z1, p) / n  # Σ z zᵀ p_c, per class
        eye = torch.eye(k, dtype=z1.dtype, device=z1.device)
        hessian = (outer[..., None] * eye[None, None, :, None, :]).reshape(
            tasks, rows * k, rows * k) - q.transpose(1, 2) @ q / n
        hessian += torch.diag_embed(penalty.repeat_interleave(k))[None]
        scale = torch.diagonal(hessian, dim1=1, dim2=2).amax(1).clamp_min(1.0)
        hessian += (1e-12 * scale)[:, None, None] * torch.eye(rows * k, dtype=z1.dtype,
                                                             device=z1.device)
        g = gradient[:, columns].reshape(rows, tasks, k).permute(1, 0, 2).reshape(tasks, -1)
        step = -torch.linalg.solve(hessian, g[..., None])[..., 0].reshape(tasks, rows, k)
        step[:, -1] -= step[:, -1].mean(1, keepdim=True)  # no part along the flat direction
        direction[:, columns] = step.permute(1, 0, 2).reshape(rows, -1)
    return direction
