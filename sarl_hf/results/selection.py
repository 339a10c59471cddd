"""Which numbers a report shows: the (encoder, format) entries of a results dict, the layer
chosen on validation for each task, and the layer that stands for a whole encoder."""

from __future__ import annotations


def encoder_rows(results: dict):
    """(encoder, config, entry) for every probed pair."""
    for encoder, configs in results["encoders"].items():
        for config, entry in configs.items():
            yield encoder, config, entry


def best_metrics(entry: dict, task: str) -> dict:
    """The test metrics of ``task`` at the layer chosen for it on validation."""
    return entry["layers"][entry["best_layer"][task]][task]


def best_by_validation(per_layer: dict, item: str, metric: str) -> str:
    """The layer whose ``per_layer[layer][item][metric]`` (a validation score) is highest;
    a tie goes to the first, in model order."""
    return max(per_layer, key=lambda layer: per_layer[layer][item][metric])


def best_multisource(per_layer: dict) -> dict:
    """Per factor, the metrics of the layer with the best validation source accuracy."""
    factors = next(iter(per_layer.values()))
    return {f: per_layer[best_by_validation(per_layer, f, "validation_source_accuracy")][f]
            for f in factors}


def summary_layer(layers) -> str:
    """The layer that stands for a whole encoder: ``all`` where it exists, else the last
    one a distance can tell scenes apart in (not a one-column embedding, nor one whose
    sensitivity ratios are all undefined: a single dimension under cosine), else the last.

    ``layers``: ``{layer: (n, dim) array}`` or ``{layer: {factor: metrics}}``.
    """
    if "all" in layers:
        return "all"
    names = list(layers)
    usable = [name for name in names if not _degenerate(layers[name])]
    return (usable or names)[-1]


def _degenerate(value) -> bool:
    if isinstance(value, dict):
        ratios = [m.get("ratio") for m in value.values() if isinstance(m, dict)]
        return bool(ratios) and all(r != r for r in ratios)  # all NaN
    shape = getattr(value, "shape", None)
    return shape is not None and len(shape) == 2 and shape[1] == 1
