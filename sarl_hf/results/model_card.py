"""An encoder's model card with the results of a ``sarl bench`` run.

The card's YAML header gets a ``model-index`` (the Hub's results format, written by
``huggingface_hub``'s ``EvalResult``): per channel format and task, the test accuracy of
the linear probe at the layer chosen on validation and, for tasks with an exact value, its
regression error. The body gets the same numbers as a table with their bootstrap 95%
intervals, the chance levels and the corpus they come from, in place of an earlier such
section. Everything else in the card is kept as written.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import EvalResult
from huggingface_hub import ModelCard

from ..files import atomic_write
from ..probing.tasks import TASK_NAMES
from ..probing.tasks import TASKS
from .combine import read_results
from .selection import best_metrics

__all__ = ["eval_results", "results_section", "card_with_results", "write_model_card"]

RESULTS_HEADING = "## Results on the SARL corpus"
#: How the corpus is named in the model-index (it has no Hub id of its own yet).
DATASET_TYPE = "sarl"
DATASET_NAME = "SARL spatial scenes"
TASK_TYPE = "audio-classification"
#: One task per channel format (the Hub groups results by task and dataset): the probe;
#: each SARL task is a metric of it.
TASK_NAME = "linear probe (SARL protocol)"


def _entries(results: dict, encoder: str) -> dict:
    entries = results.get("encoders", {}).get(encoder)
    if not isinstance(entries, dict) or not entries:
        known = ", ".join(results.get("encoders", {})) or "none"
        raise ValueError(f"the results hold no encoder {encoder!r} (they hold: {known})")
    return entries


def _regression_name(task: str) -> str:
    metric = TASKS[task].regression_metric
    unit = metric.rpartition("_")[2] if metric == "angular_error_deg" else \
        TASKS[task].regression_unit
    kind = "angular error" if metric == "angular_error_deg" else "mean absolute error"
    return f"{kind} ({unit.replace('_', ' ')})"


def eval_results(results: dict, encoder: str) -> list[EvalResult]:
    """The model-index entries of ``encoder`` in a results dict of ``sarl bench``.

    Parameters
    ----------
    results : dict
        As ``results.json`` holds it (``encoders`` → name → format → entry).
    encoder : str
        A key of ``results["encoders"]``.

    Returns
    -------
    list of EvalResult
        Per format (``dataset_config``) and SARL task: the test accuracy in percent and,
        where the task has an exact value, the regression error in its unit; the metric
        name says the task and the layer chosen on validation.
    """
    out = []
    for channel_format, entry in _entries(results, encoder).items():
        for task in TASK_NAMES:
            metrics, layer = best_metrics(entry, task), entry["best_layer"][task]
            common = dict(task_type=TASK_TYPE, task_name=TASK_NAME,
                          dataset_type=DATASET_TYPE, dataset_name=DATASET_NAME,
                          dataset_config=channel_format, dataset_split="test")
            out.append(EvalResult(metric_type="accuracy",
                                  metric_value=round(100 * metrics["accuracy"], 2),
                                  metric_name=f"{task} accuracy (%), layer {layer}",
                                  **common))
            metric = TASKS[task].regression_metric
            if metric and metric in metrics:
                out.append(EvalResult(metric_type=metric,
                                      metric_value=float(f"{metrics[metric]:.4g}"),
                                      metric_name=f"{task} {_regression_name(task)}, layer {layer}",
                                      **common))
    return out


def _value(metrics: dict, name: str, percent: bool) -> str:
    scale, form = (100, ".1f") if percent else (1, ".3g")
    interval = metrics.get(f"{name}_ci")
    text = f"{scale * metrics[name]:{form}}"
    if interval is None:
        return text + " [no interval]"
    return text + f" [{scale * interval[0]:{form}}, {scale * interval[1]:{form}}]"


def _corpus_line(results: dict) -> str:
    plan = results.get("plan")
    if not isinstance(plan, dict):
        return "The corpus: several runs combined (see their results files)."
    bank = plan.get("bank", {}).get("name", "?") if isinstance(plan.get("bank"), dict) else "?"
    return (f"The corpus: {plan.get('scenes', '?')} scenes of {plan.get('duration_s', '?')} s "
            f"({', '.join(plan.get('formats', []))}), seed {plan.get('seed', '?')}, "
            f"`{bank}` source bank, `{plan.get('mode', '?')}` renderer.")


def results_section(results: dict, encoder: str) -> str:
    """The Markdown section of ``encoder``'s results: one table per channel format."""
    basis = ("Test metrics of the linear probe of `sarl bench` (SARL's protocol), at the "
             "layer chosen on validation for each task, with bootstrap 95% intervals over "
             "test scenes; chance is the most frequent train level (accuracy) and the train "
             "mean as the prediction (error). ")
    lines = [RESULTS_HEADING, "", basis + _corpus_line(results)]
    for channel_format, entry in _entries(results, encoder).items():
        first = best_metrics(entry, TASK_NAMES[0])
        lines += ["", f"### {channel_format}", "",
                  f"{first.get('n_test', '?')} test scenes; fingerprint "
                  f"`{entry.get('fingerprint', '?')}`.", "",
                  "| task | layer | accuracy (%) | chance (%) | error | chance error |",
                  "|---|---|---|---|---|---|"]
        for task in TASK_NAMES:
            metrics, metric = best_metrics(entry, task), TASKS[task].regression_metric
            error = chance = "–"
            if metric and metric in metrics:
                error = f"{_value(metrics, metric, False)} {_regression_name(task)}"
                chance = f"{metrics[f'chance_{metric}']:.3g}"
            lines.append(f"| {task} | `{entry['best_layer'][task]}` | "
                         f"{_value(metrics, 'accuracy', True)} | "
                         f"{100 * metrics['chance_accuracy']:.1f} | {error} | {chance} |")
    return "\n".join(lines) + "\n"


def _replace_section(body: str, section: str) -> str:
    """``body`` with ``section`` in place of an earlier results section, else before
    ``## Citation`` (or at the end)."""
    earlier = re.compile(rf"^{re.escape(RESULTS_HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    if earlier.search(body):
        return earlier.sub(lambda _: section + "\n", body, count=1)
    citation = re.search(r"^## Citation", body, re.M)
    if citation:
        return body[:citation.start()] + section + "\n" + body[citation.start():]
    return body.rstrip("\n") + "\n\n" + section


def card_with_results(card_text: str, results: dict, encoder: str) -> str:
    """``card_text`` (a Hub model card: YAML header and Markdown) with ``encoder``'s
    results as ``model-index`` and as a results section."""
    card = ModelCard(card_text)
    card.data.model_name = encoder
    card.data.eval_results = eval_results(results, encoder)
    card.text = _replace_section(card.text, results_section(results, encoder))
    return str(card)


def write_model_card(card_path, results_path, out_path, encoder: str | None = None) -> Path:
    """Write ``card_path``'s card with the results of ``results_path`` (a ``results.json``
    of ``sarl bench``, checked as ``sarl report`` checks it) to ``out_path``.

    ``encoder`` defaults to the name of the card's folder (``model_cards/sarl-spatial``).
    """
    card_path, out_path = Path(card_path), Path(out_path)
    text = card_with_results(card_path.read_text(encoding="utf-8"), read_results(results_path),
                             encoder or card_path.resolve().parent.name)
    atomic_write(out_path, text)
    return out_path
