"""The torch classifier's objective: softmax regression of several tasks on the same
features, side by side, with its gradient and Newton directions in closed form (no
autograd), as blocks for :func:`~.lbfgs.minimise_blocks`."""

from __future__ import annotations

import numpy as np

from .newton import active_groups
from .newton import softmax_hessian_product
from .newton import softmax_kronecker_preconditioner
from .newton import softmax_newton_cg_direction
from .newton import softmax_newton_direction


#: Class probabilities below this are zero in the float32 Hessian products (see
#: ``ScaledSoftmax.newton_direction``).
PROBABILITY_FLOOR = 1e-20


#: Class scores within this of a row's largest are a tie. It is below what either backend's
#: fit resolves (at the strongest strengths balanced classes leave every logit of a row near
#: the train mean within 1e-6 of the others, and which wins would depend on a solver's last
#: digits), so that both backends predict alike there.
TIE_TOL = 1e-6


def tied_argmax(scores: np.ndarray) -> np.ndarray:
    """The column of each row's largest score, a tie (within :data:`TIE_TOL`) going to the
    lowest column.

    Parameters
    ----------
    scores : ndarray, shape (m, k)

    Returns
    -------
    ndarray, shape (m,), int
    """
    scores = np.asarray(scores, dtype=np.float64)
    return np.argmax(scores >= scores.max(1, keepdims=True) - TIE_TOL, axis=1)


class SoftmaxObjective:
    """``Σ_i Σ_t CE_it + alpha/2 ‖W‖²`` (divided by n) of T softmax classifiers on the same
    features, with its gradient in closed form (no autograd).

    The tasks' logits sit side by side, tasks with the same number of classes next to each
    other, so that one matrix product serves every task and one log-softmax every group.
    """

    def __init__(self, z, y, num_classes, kind):
        import torch

        self.y, self.kind = y, kind
        n, device = len(z), z.device
        self.z, self.num_classes = z, list(num_classes)
        self.order = sorted(range(len(num_classes)), key=lambda t: num_classes[t])
        starts = np.concatenate([[0], np.cumsum([num_classes[t] for t in self.order])])
        self.start = {t: int(starts[i]) for i, t in enumerate(self.order)}
        self.width = int(starts[-1])
        self.groups = []  # (first column, tasks, classes) of tasks with equal class counts
        for i, t in enumerate(self.order):
            k = num_classes[t]
            if self.groups and self.groups[-1][2] == k:
                self.groups[-1][1] += 1
            else:
                self.groups.append([int(starts[i]), 1, k])
        self.target_t = torch.stack([y[:, t] + self.start[t] for t in range(len(num_classes))])
        self.onehot_t = torch.zeros(self.width, n, dtype=kind, device=device).scatter_(
            0, self.target_t, 1.0)
        self.curvature = torch.zeros(self.width, dtype=kind, device=device)
        self.task_of = torch.zeros(self.width, dtype=torch.int64, device=device)
        for t, k in enumerate(num_classes):
            self.curvature[self.start[t]:self.start[t] + k] = 1.0 / k
            self.task_of[self.start[t]:self.start[t] + k] = t

    def log_softmax(self, logits_t):
        """Per-task log-probabilities (width, n) from transposed logits (width, n), in place:
        each group of tasks is a contiguous block of rows."""
        n = logits_t.shape[1]
        for first, tasks, k in self.groups:
            rows = slice(first, first + tasks * k)
            logits_t[rows] = logits_t[rows].reshape(tasks, k, n).log_softmax(1).reshape(-1, n)
        return logits_t

    def evaluate(self, weight, bias, alpha: float):
        """Each task's own objective (T,), the gradient (d loss / d weight, d loss / d bias;
        divided by n) and each task's largest absolute gradient entry (T,)."""
        import torch

        n, tasks = len(self.z), len(self.num_classes)
        log_p = self.log_softmax(weight.T @ self.z.T + bias[:, None])  # (width, n)
        cross_entropy = -log_p.gather(0, self.target_t).sum(1)  # (T,)
        residual = log_p.exp_().sub_(self.onehot_t)  # softmax − one-hot
        grad_weight = (self.z.T @ residual.T).add_(weight, alpha=alpha).div_(n)
        grad_bias = residual.sum(1) / n
        zeros = torch.zeros(tasks, dtype=weight.dtype, device=weight.device)
        penalty = zeros.clone().index_add_(0, self.task_of, (weight * weight).sum(0))
        largest = torch.cat([grad_weight, grad_bias[None]]).abs().amax(0)
        measure = zeros.scatter_reduce(0, self.task_of, largest, "amax")
        return (cross_entropy + 0.5 * alpha * penalty) / n, grad_weight, grad_bias, measure

    def predict(self, z, weight, bias) -> np.ndarray:
        """Class indices (m, T), ties (:func:`tied_argmax`) to the lowest."""
        logits = (z @ weight + bias).cpu().numpy()
        return np.stack([tied_argmax(logits[:, self.start[t]:self.start[t] + k])
                         for t, k in enumerate(self.num_classes)], axis=1)


class ScaledSoftmax:
    """One strength's softmax problems as blocks for :func:`~.lbfgs.minimise_blocks`:
    parameters ``[weight · scale; bias]`` (d + 1, width), one block per task."""

    def __init__(self, objective: SoftmaxObjective, scale, alpha: float, exact: bool,
                 grad_tol: float):
        self.objective, self.scale, self.alpha, self.exact = objective, scale, alpha, exact
        self.cg_floor = 0.1 * grad_tol  # a residual this small meets the test: stop there
        self._subsets: dict = {}
        self._inverses: dict = {}

    def _subset(self, tasks):
        key = tuple(tasks)
        if key not in self._subsets:
            sub = SoftmaxObjective(self.objective.z, self.objective.y[:, list(tasks)],
                                    [self.objective.num_classes[t] for t in tasks],
                                    self.objective.kind)
            columns = [0] * sub.width
            for j, t in enumerate(tasks):
                for k in range(self.objective.num_classes[t]):
                    columns[sub.start[j] + k] = self.objective.start[t] + k
            self._subsets[key] = (sub, columns, self.scale[:, columns])
        return self._subsets[key]

    def columns(self, tasks):
        return self._subset(tasks)[1]

    def segments(self, tasks):
        return self._subset(tasks)[0].task_of

    def evaluate(self, theta, tasks):
        import torch

        sub, _, scale = self._subset(tasks)
        losses, grad_weight, grad_bias, measure = sub.evaluate(theta[:-1] / scale, theta[-1],
                                                               self.alpha)
        return losses, torch.cat([grad_weight / scale, grad_bias[None]]), measure

    def newton_direction(self, theta, tasks, gradient):
        """Newton's step in these (scaled) parameters (:mod:`~.newton`): solved with the
        exact Hessian where that is cheap (``exact``), else truncated (Newton–CG)."""
        import torch

        sub, _, scale = self._subset(tasks)
        z = sub.z
        probabilities = sub.log_softmax((theta[:-1] / scale).T @ z.T + theta[-1][:, None]).exp_()
        z1 = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype, device=z.device)], 1)
        penalty = torch.full((len(theta),), self.alpha / len(z), dtype=z.dtype, device=z.device)
        penalty[-1] = 0.0
        if self.exact:
            unscaled = torch.cat([gradient[:-1] * scale, gradient[-1:]])
            step = softmax_newton_direction(z1, probabilities.T, unscaled, penalty, sub.groups)
            return torch.cat([step[:-1] * scale, step[-1:]])
        # H in the scaled parameters; its products in float32 (a direction needs no more,
        # and they are the fit's main cost); gradient and convergence test stay exact
        rows = torch.cat([scale, torch.ones_like(scale[:1])])
        z1_32 = z1.float()
        z1_t32 = z1_32.T.contiguous()
        # a class probability below the floor adds less than 1e-20 of |z|²|v| to a product,
        # far below float32's resolution; left in, it and its products would be subnormal
        # floats, whose arithmetic is tens of times slower on a CPU
        probabilities_32 = torch.where(probabilities < PROBABILITY_FLOOR, 0.0,
                                       probabilities).float().T.contiguous()  # (n, width)
        penalty_32 = penalty.float()

        def product(vector, active):  # the tasks whose solve is still running only
            if bool(active.all()):  # no columns to pack: no copies
                out = softmax_hessian_product(z1_32, probabilities_32, (vector / rows).float(),
                                              penalty_32, sub.groups, z1_t32)
                return out.to(vector.dtype) / rows
            keep = active[sub.task_of]
            groups = active_groups(sub.groups, active[sub.order].tolist())
            out = torch.zeros_like(vector)
            part = softmax_hessian_product(z1_32, probabilities_32[:, keep],
                                           (vector[:, keep] / rows[:, keep]).float(),
                                           penalty_32, groups, z1_t32)
            out[:, keep] = part.to(vector.dtype) / rows[:, keep]
            return out

        key = tuple(tasks)
        if key not in self._inverses:  # built at the first step, kept for the later ones
            self._inverses[key] = softmax_kronecker_preconditioner(
                z1_32, probabilities_32, self.alpha / len(z), sub.groups)
        inverse = self._inverses[key]
        rows_32 = rows.float()

        def preconditioner(residual):  # in the scaled parameters: R M⁻¹ R
            return (inverse(residual.float() * rows_32) * rows_32).to(residual.dtype)

        step = softmax_newton_cg_direction(product, gradient, sub.task_of, len(tasks),
                                           floor=self.cg_floor / float(rows.max()),
                                           preconditioner=preconditioner)
        for first, count, k in sub.groups:  # no part along each task's flat direction
            block = step[-1, first:first + count * k].view(count, k)
            block -= block.mean(1, keepdim=True)
        return step
