"""Batched L-BFGS: independent smooth problems whose parameters are column blocks of one
matrix, minimised together but each on its own.

Every step evaluates all blocks still moving at once (for the probe: one pair of matrix
products serves the classifiers of every task), yet each block keeps its own curvature
memory, its own step length (a backtracking line search on its own objective) and its
own convergence test, so the result is what separate L-BFGS runs would give: a block
stops when its gradient is below ``grad_tol`` or its objective no longer decreases
(relative change below ``loss_tol``); a block that has stopped is no longer evaluated.
Plain torch, no autograd.
"""

from __future__ import annotations

from typing import Protocol

import torch

#: Armijo's sufficient-decrease constant and the halvings a line search tries at most.
ARMIJO = 1e-4
MAX_HALVINGS = 40


class BlockProblem(Protocol):
    """What :func:`minimise_blocks` needs of a problem of B blocks."""

    def columns(self, blocks: list[int]) -> list[int]:
        """The parameter columns of ``blocks``, in the layout :meth:`evaluate` uses."""

    def segments(self, blocks: list[int]) -> torch.Tensor:
        """For each of those columns, the position in ``blocks`` of its block (LongTensor)."""

    def evaluate(self, theta: torch.Tensor, blocks: list[int]):
        """At ``theta`` (rows, len(columns(blocks))): each block's objective (A,), the
        gradient (like theta) and each block's convergence measure (A,)."""


def _segment_dot(a, b, segments, count):
    """Per-block dot products of two (rows, columns) tensors: (count,)."""
    return _segment_sum((a * b).sum(0), segments, count)


def _segment_sum(values, segments, count):
    """Sums over each block's columns of (..., columns) values: (..., count)."""
    out = torch.zeros(*values.shape[:-1], count, dtype=values.dtype, device=values.device)
    return out.index_add_(-1, segments, values)


def _direction(gradient, memory, segments, count):
    """The L-BFGS direction of every block, from the compact form of the inverse Hessian
    (Byrd, Nocedal and Schnabel 1994; Nocedal and Wright eq. 7.24) with H0 = gamma I:
    a few batched products for all blocks and memory pairs, where the two-loop recursion
    takes a chain of small steps per pair.

    ``memory`` is ``(S, Y, valid)``: steps and gradient changes (m, rows, columns), oldest
    first, and (m, count) whether a pair had positive curvature in that block (a pair
    without is left out of that block's update)."""
    if memory is None:
        return -gradient
    steps, changes, valid = memory
    kind = gradient.dtype
    mask = valid.T.to(kind)  # (count, m)
    pair = mask[:, :, None] * mask[:, None, :]
    sy = _segment_sum(torch.einsum("irc,jrc->ijc", steps, changes), segments, count)
    yy = _segment_sum(torch.einsum("irc,jrc->ijc", changes, changes), segments, count)
    sy, yy = sy.permute(2, 0, 1) * pair, yy.permute(2, 0, 1) * pair  # (count, m, m)
    last = sy[:, -1, -1] / yy[:, -1, -1]
    gamma = torch.where(torch.isfinite(last) & (last > 0), last, torch.ones_like(last))
    diagonal = torch.diagonal(sy, dim1=1, dim2=2)
    upper = torch.triu(sy, 1) + torch.diag_embed(torch.where(valid.T, diagonal,
                                                             torch.ones_like(diagonal)))
    sg = _segment_sum((steps * gradient).sum(1), segments, count).T * mask  # (count, m)
    yg = _segment_sum((changes * gradient).sum(1), segments, count).T * mask
    r_sg = torch.linalg.solve_triangular(upper, sg[..., None], upper=True)
    inner = (diagonal * mask)[..., None] * r_sg + gamma[:, None, None] * (yy @ r_sg) \
        - gamma[:, None, None] * yg[..., None]
    top = torch.linalg.solve_triangular(upper.transpose(1, 2), inner, upper=False)[..., 0]
    bottom = -r_sg[..., 0]
    hg = gamma[segments] * gradient \
        + torch.einsum("irc,ic->rc", steps, top.T[:, segments]) \
        + gamma[segments] * torch.einsum("irc,ic->rc", changes, bottom.T[:, segments])
    return -hg


def _remember(memory, s_step, y_step, curved, history):
    """The memory with the newest pair appended (the oldest dropped past ``history``)."""
    if memory is None:
        return s_step[None], y_step[None], curved[None]
    steps, changes, valid = memory
    return (torch.cat([steps, s_step[None]])[-history:],
            torch.cat([changes, y_step[None]])[-history:],
            torch.cat([valid, curved[None]])[-history:])


def minimise_blocks(problem: BlockProblem, theta: torch.Tensor, num_blocks: int, *,
                    grad_tol: float, loss_tol: float, max_steps: int, history: int = 20,
                    newton: bool = False):
    """Minimise every block of ``problem`` from ``theta`` (rows, columns).

    With ``newton``, each step's direction is ``problem.newton_direction(x, blocks,
    gradient)`` (Newton's step, from the exact Hessian) instead of the L-BFGS direction;
    line search and convergence tests are the same.

    Returns
    -------
    theta : Tensor
        The minimiser, same shape.
    steps : int
        Steps of the block that took most.
    measure : Tensor, shape (num_blocks,)
        Each block's convergence measure at the end.
    """
    theta = theta.clone()
    measure = torch.full((num_blocks,), torch.inf, dtype=theta.dtype, device=theta.device)
    active = list(range(num_blocks))
    columns, segments = problem.columns(active), problem.segments(active)
    x = theta[:, columns]
    loss, gradient, measure[active] = problem.evaluate(x, active)
    stopped = torch.zeros(len(active), dtype=torch.bool, device=theta.device)
    memory = None
    steps = 0
    while True:
        finished = stopped | (measure[active] <= grad_tol)
        if finished.any():  # write the finished blocks back and carry on without them
            theta[:, columns] = x
            keep = torch.nonzero(~finished).flatten()
            active = [active[i] for i in keep.tolist()]
            if not active:
                break
            new_columns = problem.columns(active)
            position = {c: i for i, c in enumerate(columns)}
            index = torch.tensor([position[c] for c in new_columns], device=x.device)
            x, gradient, loss, stopped = x[:, index], gradient[:, index], loss[keep], stopped[keep]
            if memory is not None:
                memory = (memory[0][:, :, index], memory[1][:, :, index], memory[2][:, keep])
            columns, segments = new_columns, problem.segments(active)
        if steps >= max_steps:
            theta[:, columns] = x
            break
        count = len(active)
        if newton:
            direction = problem.newton_direction(x, active, gradient)
        else:
            direction = _direction(gradient, memory, segments, count)
        slope = _segment_dot(gradient, direction, segments, count)
        uphill = (slope >= 0)[segments]  # a stale memory: fall back to the gradient there
        direction[:, uphill] = -gradient[:, uphill]
        slope = _segment_dot(gradient, direction, segments, count)
        step = torch.ones(count, dtype=x.dtype, device=x.device)
        if memory is None and not newton:  # scale a first step by the gradient, as
            # torch's L-BFGS does
            total = _segment_dot(gradient.abs(), torch.ones_like(gradient), segments, count)
            step = (1.0 / total.clamp_min(1e-300)).clamp(max=1.0)
        new_loss, new_gradient, new_measure, step = _line_search(
            problem, x, direction, step, loss, slope, segments, active)
        moved = step > 0
        s_step = step[segments] * direction
        y_step = new_gradient - gradient
        sy = _segment_dot(s_step, y_step, segments, count)
        curved = moved & (sy > 1e-10 * _segment_dot(y_step, y_step, segments, count))
        if not newton:
            memory = _remember(memory, s_step, y_step, curved, history)
        flat = loss - new_loss <= loss_tol * new_loss.abs().clamp_min(1.0)
        stopped = ~moved | (moved & flat)
        x = torch.where(moved[segments], x + s_step, x)
        gradient = torch.where(moved[segments], new_gradient, gradient)
        loss = torch.where(moved, new_loss, loss)
        measure[active] = torch.where(moved, new_measure, measure[active])
        steps += 1
    return theta, steps, measure


def _line_search(problem, x, direction, step, loss, slope, segments, active):
    """Backtracking (Armijo) per block: halve each block's step until its own objective
    decreases enough; a block that cannot decrease gets step 0. Returns the objective,
    gradient and measure at the accepted points, and the accepted steps."""
    count = len(active)
    new_loss, new_measure = loss.clone(), torch.zeros_like(loss)
    new_gradient = torch.zeros_like(x)
    accepted = torch.zeros_like(step)
    pending = torch.ones(count, dtype=torch.bool, device=x.device)
    for _ in range(MAX_HALVINGS):
        values, gradient, measure = problem.evaluate(x + step[segments] * direction, active)
        accept = pending & (values <= loss + ARMIJO * step * slope)
        new_loss = torch.where(accept, values, new_loss)
        new_gradient = torch.where(accept[segments], gradient, new_gradient)
        new_measure = torch.where(accept, measure, new_measure)
        accepted = torch.where(accept, step, accepted)
        pending = pending & ~accept
        if not pending.any():
            break
        step = torch.where(pending, 0.5 * step, step)
    return new_loss, new_gradient, new_measure, accepted
