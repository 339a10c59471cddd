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
#: Conjugate-gradient iterations per truncated Newton step at most (larger problems).
CG_MAX_ITERATIONS = 100


def fits_newton(num_rows: int, rank: int, num_classes) -> bool:
    """Whether Newton steps suit a softmax probe of ``num_rows`` rows on ``rank`` axes."""
    parameters = (rank + 1) * max(num_classes)
    return num_rows * parameters ** 2 + parameters ** 3 <= NEWTON_MAX_WORK


def softmax_newton_direction(z1, probabilities, gradient, penalty, groups):
    """The Newton step of every task's softmax problem.

    Parameters
    ----------
    z1 : tensor (n, r + 1)
        Features with a trailing column of ones (the intercept).
    probabilities : tensor (n, width)
        Class probabilities at the current point, one row per row of ``z1``, tasks side by
        side (as ``SoftmaxObjective`` lays out its logits).
    gradient : tensor (r + 1, width)
        The gradient of each task's objective, same layout.
    penalty : tensor (r + 1,)
        The penalty's curvature per row (``alpha / n`` on weights, 0 on the intercept).
    groups : list of (first column, number of tasks, classes)
        Runs of tasks with equal class counts, as ``SoftmaxObjective.groups``.

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
        p = probabilities[:, columns].reshape(n, tasks, k).transpose(0, 1)  # (T, n, k)
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


def softmax_hessian_product(z1, probabilities, vector, penalty, groups, z1_t=None):
    """Every task's Hessian times ``vector`` (r + 1, width), without forming the Hessian:
    ``(1/n) Z1ᵀ [P ⊙ U − P ⊙ Σ_c (P ⊙ U)] + penalty ⊙ V`` with ``U = Z1 V`` per task.

    Parameters as in :func:`softmax_newton_direction`; ``z1_t``, if given, is ``z1.T``
    stored contiguously (on a CPU the second matrix product runs twice as fast on it).
    Returns the (r + 1, width) product.
    """
    n = len(z1)
    weighted = probabilities * (z1 @ vector)  # (n, width): p ⊙ u
    for first, tasks, k in groups:  # minus p times each task's Σ_c p_c u_c
        columns = slice(first, first + tasks * k)
        block = weighted[:, columns].view(n, tasks, k)
        block -= probabilities[:, columns].view(n, tasks, k) * block.sum(2, keepdim=True)
    return (z1.T if z1_t is None else z1_t) @ weighted / n + penalty[:, None] * vector


def active_groups(groups, active) -> list:
    """The groups of the tasks that remain when only some are kept, their columns packed
    side by side in the same order (as ``vector[:, columns]`` packs them).

    Parameters
    ----------
    groups : list of (first column, number of tasks, classes)
        As ``SoftmaxObjective.groups``.
    active : sequence of bool
        One per task, in the order of the columns.
    """
    out, first, task = [], 0, 0
    for _, tasks, k in groups:
        count = int(sum(bool(a) for a in active[task:task + tasks]))
        if count:
            out.append([first, count, k])
            first += count * k
        task += tasks
    return out


def softmax_kronecker_preconditioner(z1, probabilities, penalty: float, groups):
    """An approximate inverse of every task's Hessian, ``(c_t G ⊗ A_t + penalty I)⁻¹``, in
    the manner of K-FAC: the per-row curvature ``diag p_i − p_i p_iᵀ`` of task ``t`` is
    split into a weight ``s_ti = 1 − Σ_c p_ic²`` (its trace) times a class coupling
    ``A_t = Σ_i (diag p_i − p_i p_iᵀ) / Σ_i s_ti`` shared by the rows; the feature part
    ``G = Σ_i s̄_i z_i z_iᵀ / n`` (``s̄`` the mean weight over tasks) is shared by the tasks,
    each scaled by ``c_t = Σ_i s_ti / Σ_i s̄_i``. One eigendecomposition of ``G`` and one
    of each ``A_t`` invert the sums exactly; with one task, or tasks whose rows weigh
    alike, the approximation is only that of the split.

    Parameters as in :func:`softmax_newton_direction`, ``penalty`` the weights' one
    (``alpha / n``). Returns a function ``r (r + 1, width) -> M⁻¹ r``.
    """
    import torch

    n = len(z1)
    spreads, couplings = [], []
    for first, tasks, k in groups:
        p = probabilities[:, first:first + tasks * k].reshape(n, tasks, k).permute(1, 2, 0)
        spread = 1.0 - p.square().sum(1)  # (T, n): trace of each row's curvature
        total = spread.sum(1).clamp_min(torch.finfo(p.dtype).tiny)
        couplings.append((torch.diag_embed(p.sum(2)) - p @ p.transpose(1, 2))
                         / total[:, None, None])
        spreads.append(spread)
    spread = torch.cat(spreads)  # (all tasks, n)
    shared = spread.mean(0)
    lam, u = torch.linalg.eigh((z1 * shared[:, None]).T @ z1 / n)
    lam = lam.clamp_min(0)
    ratio = spread.sum(1) / shared.sum().clamp_min(torch.finfo(shared.dtype).tiny)
    parts, t = [], 0
    for (first, tasks, k), coupling in zip(groups, couplings):
        mu, v = torch.linalg.eigh(coupling)
        c = ratio[t:t + tasks]
        inverse = 1.0 / (c[:, None, None] * lam[None, :, None] * mu.clamp_min(0)[:, None, :]
                         + penalty)
        parts.append((slice(first, first + tasks * k), tasks, k, v, inverse))
        t += tasks

    def apply(r):
        rotated = u.T @ r
        out = torch.empty_like(r)
        for columns, tasks, k, v, inverse in parts:
            block = rotated[:, columns].reshape(len(r), tasks, k).transpose(0, 1)
            block = ((block @ v) * inverse) @ v.transpose(1, 2)
            out[:, columns] = block.transpose(0, 1).reshape(len(r), -1)
        return u @ out
    return apply


def softmax_newton_cg_direction(hessian_product, gradient, segments, num_tasks: int,
                                max_iterations: int = CG_MAX_ITERATIONS, floor: float = 0.0,
                                preconditioner=None):
    """Truncated Newton steps (Newton–CG) of every task at once.

    Conjugate gradients on each task's ``H d = −g``, batched: one Hessian product per
    iteration serves every task, each task keeps its own step scalars and stops when its
    residual is below ``min(0.5, √‖g‖) ‖g‖`` (the forcing terms of Nocedal and Wright,
    Algorithm 7.1, which give superlinear convergence) or below ``floor``, or its
    curvature along the search direction is not positive.

    Parameters
    ----------
    hessian_product : callable
        ``(v (rows, width), active (num_tasks,) bool) -> H v``, every task's Hessian
        (positive semi-definite); only the active tasks' columns of the result are read,
        so a product may skip the tasks whose solve has ended.
    gradient : tensor (rows, width)
    segments : LongTensor (width,)
        The task of each column.
    num_tasks : int
    floor : float
        A residual norm small enough for every task (where the gradient test would pass).
    preconditioner : callable, optional
        ``r (rows, width) -> M⁻¹ r``, symmetric positive definite, close to each task's
        inverse Hessian: preconditioned conjugate gradients, which changes how fast the
        residual falls, not what it is tested against.

    Returns
    -------
    tensor (rows, width)
        The approximate Newton step of each task (a descent direction).
    """
    import torch

    def per_task(a, b):
        out = torch.zeros(num_tasks, dtype=a.dtype, device=a.device)
        return out.index_add_(0, segments, (a * b).sum(0))

    def preconditioned(r):
        return r if preconditioner is None else preconditioner(r)

    direction = torch.zeros_like(gradient)
    residual = -gradient
    search = preconditioned(residual)
    rz = per_task(residual, search)
    norm = per_task(residual, residual).sqrt()
    target = (torch.minimum(torch.full_like(norm, 0.5), norm.sqrt()) * norm).clamp_min(floor)
    active = norm > target
    for _ in range(max_iterations):
        if not active.any():
            break
        product = hessian_product(search, active)
        curvature = per_task(search, product)
        active = active & (curvature > 0)
        step = torch.where(active, rz / curvature.clamp_min(1e-300), torch.zeros_like(rz))
        direction = direction + step[segments] * search
        residual = residual - step[segments] * product
        z = preconditioned(residual)
        new_rz = per_task(residual, z)
        beta = torch.where(active, new_rz / rz.clamp_min(1e-300), torch.zeros_like(rz))
        search = torch.where(active[segments], z + beta[segments] * search, search)
        rz = torch.where(active, new_rz, rz)
        active = active & (per_task(residual, residual).sqrt() > target)
    return direction
