"""Probing: how much of each factor an embedding holds.

Takes embeddings ``{split: (n, dim)}`` and labels ``{split: {column: (n,)}}``; gives, per
task, test metrics with bootstrap intervals and chance levels under one protocol
(:func:`probe`: standardise on train, softmax and ridge over a fixed L2 grid, choose on
validation; torch, with scikit-learn as the cross-check; an MLP variant). Multisource
scenes are scored source by source after the best assignment (:func:`probe_multisource`);
the sensitivity analysis measures how far one factor moves an embedding against
unrelated scenes (:func:`sensitivity`); audio–text encoders are scored on retrieval and
the content–position test (:func:`retrieval_scores`).

To add a task: a :class:`Task` in :data:`TASKS` (label column, value column, target).
"""

from .multisource import probe_multisource
from .protocol import GRID, PROTOCOL_VERSION, probe
from .retrieval import retrieval_from_cache, retrieval_scores
from .sensitivity_analysis import MIN_ANCHORS, sensitivity, sensitivity_from_cache
from .tasks import ROOM_TASKS, SOURCE_TASKS, TASK_NAMES, TASKS, Task, get_task

__all__ = ["TASKS", "TASK_NAMES", "SOURCE_TASKS", "ROOM_TASKS", "Task", "get_task", "GRID",
           "PROTOCOL_VERSION", "probe", "probe_multisource", "sensitivity",
           "sensitivity_from_cache", "MIN_ANCHORS", "retrieval_scores", "retrieval_from_cache"]
