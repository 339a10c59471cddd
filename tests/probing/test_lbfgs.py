"""Batched L-BFGS: blocks minimised together end where each would alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sarl_hf.probing.lbfgs import minimise_blocks


class Quadratics:
    """Block b: 0.5 (x - c_b)' A_b (x - c_b) on its own columns, with condition numbers
    that differ by orders of magnitude (so blocks need very different step counts)."""

    def __init__(self, rows, widths, rng):
        self.widths = list(widths)
        self.start = np.concatenate([[0], np.cumsum(self.widths)])
        self.matrices, self.centres = [], []
        for b, w in enumerate(self.widths):
            basis = np.linalg.qr(rng.standard_normal((rows * w, rows * w)))[0]
            spectrum = np.logspace(0, b + 1, rows * w)  # condition 10^(b+1)
            self.matrices.append(torch.tensor(basis @ np.diag(spectrum) @ basis.T))
            self.centres.append(torch.tensor(rng.standard_normal(rows * w)))
        self.rows, self.evaluated = rows, []

    def columns(self, blocks):
        return [c for b in blocks for c in range(self.start[b], self.start[b + 1])]

    def segments(self, blocks):
        return torch.tensor([i for i, b in enumerate(blocks) for _ in range(self.widths[b])])

    def evaluate(self, theta, blocks):
        self.evaluated.append(list(blocks))
        losses, grads, measures, at = [], [], [], 0
        for b in blocks:
            w = self.widths[b]
            x = theta[:, at:at + w].T.reshape(-1)  # column-major flattening of the block
            d = x - self.centres[b]
            g = self.matrices[b] @ d
            losses.append(0.5 * d @ g)
            grads.append(g.reshape(w, self.rows).T)
            measures.append(g.abs().max())
            at += w
        return torch.stack(losses), torch.cat(grads, 1), torch.stack(measures)


def test_each_block_reaches_its_own_minimum_and_stops_alone():
    problem = Quadratics(rows=3, widths=[2, 3, 1], rng=np.random.default_rng(0))
    theta0 = torch.zeros(3, 6, dtype=torch.float64)
    theta, steps, measure = minimise_blocks(problem, theta0, 3, grad_tol=1e-9, loss_tol=0.0,
                                            max_steps=500)
    assert (measure <= 1e-9).all()
    for b in range(3):
        cols = problem.columns([b])
        np.testing.assert_allclose(theta[:, cols].T.reshape(-1), problem.centres[b], atol=1e-7)
    # the well-conditioned block stopped early and was no longer evaluated
    assert [0] not in problem.evaluated[-1:] and 0 not in problem.evaluated[-1]
    counts = [sum(b in blocks for blocks in problem.evaluated) for b in range(3)]
    assert counts[0] < counts[2], counts


def test_joint_equals_separate_runs():
    joint = Quadratics(rows=2, widths=[2, 2], rng=np.random.default_rng(1))
    theta, _, _ = minimise_blocks(joint, torch.zeros(2, 4, dtype=torch.float64), 2,
                                  grad_tol=1e-10, loss_tol=0.0, max_steps=500)
    for b in range(2):
        alone = Quadratics(rows=2, widths=[2, 2], rng=np.random.default_rng(1))
        alone.widths, alone.start = [2], np.array([0, 2])
        alone.matrices, alone.centres = [alone.matrices[b]], [alone.centres[b]]
        single, _, _ = minimise_blocks(alone, torch.zeros(2, 2, dtype=torch.float64), 1,
                                       grad_tol=1e-10, loss_tol=0.0, max_steps=500)
        np.testing.assert_allclose(theta[:, 2 * b:2 * b + 2], single, atol=1e-8)


def test_a_step_cap_is_reported_not_hidden():
    problem = Quadratics(rows=3, widths=[3], rng=np.random.default_rng(2))
    _, steps, measure = minimise_blocks(problem, torch.zeros(3, 3, dtype=torch.float64), 1,
                                        grad_tol=1e-12, loss_tol=0.0, max_steps=3)
    assert steps == 3 and measure[0] > 1e-12


@pytest.mark.parametrize("start", [0.0, 1e6])
def test_far_starts_and_flat_objectives_end(start):
    problem = Quadratics(rows=2, widths=[1, 1], rng=np.random.default_rng(3))
    theta = torch.full((2, 2), start, dtype=torch.float64)
    out, steps, _ = minimise_blocks(problem, theta, 2, grad_tol=1e-8, loss_tol=1e-12,
                                    max_steps=2000)
    assert torch.isfinite(out).all() and steps < 2000
    for b in range(2):
        np.testing.assert_allclose(out[:, b], problem.centres[b], rtol=1e-5, atol=1e-5)
