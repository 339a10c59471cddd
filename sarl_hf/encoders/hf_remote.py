"""Transformers models this package has no family for: those with their own modelling code
(``auto_map`` in ``config.json``, loaded with ``trust_remote_code=True``: MERT, Dasheng,
CED, AudioMAE ports, GRAM's Hub release, ...).

Inputs come from what the model declares: its feature extractor's output where it has one
(the keys its ``forward`` takes), else the waveform (batch, samples) as ``forward``'s first
argument, at the extractor's ``sampling_rate`` or the config's ``sampling_rate`` /
``sample_rate``. Outputs: every hidden state (``output_hidden_states=True`` where
``forward`` takes it) pooled over frames as ``layer_00`` …; a model that returns no
``hidden_states`` gives each tensor it returns (``last_hidden_state``, ``pooler_output``,
or ``output`` for a bare tensor) as a layer, and :func:`describe_outputs` says which.
"""

from __future__ import annotations

import inspect

from ..errors import ArgumentRequired
from .pooling import as_frames, pool_frames


def uses_remote_code(config_dict: dict) -> bool:
    """Whether a raw ``config.json`` maps ``AutoModel`` to the repository's own code."""
    return "AutoModel" in (config_dict.get("auto_map") or {})


def check_remote_code(model_id: str, config_dict: dict, trust_remote_code: bool,
                      native_types) -> None:
    """ArgumentRequired (``trust_remote_code``) if the model loads only with its own code
    and that was not allowed.

    Parameters
    ----------
    model_id : str
    config_dict : dict
        The model's raw ``config.json``.
    trust_remote_code : bool
    native_types : collection of str
        Model types transformers itself implements (those load without remote code).
    """
    if trust_remote_code or not uses_remote_code(config_dict):
        return
    if config_dict.get("model_type") in native_types:
        return
    code = config_dict["auto_map"]["AutoModel"]
    raise ArgumentRequired(f"{model_id!r} loads only with its own modelling code ({code!r}, "
                           "from config.json's auto_map), which runs on this machine: read it, "
                           "then allow it with trust_remote_code=True", "trust_remote_code")


def config_sample_rate(config) -> int | None:
    """The sampling rate a config declares (``sampling_rate`` or ``sample_rate``), if any."""
    for attribute in ("sampling_rate", "sample_rate"):
        rate = getattr(config, attribute, None)
        if isinstance(rate, (int, float)) and rate > 0:
            return int(rate)
    return None


def forward_accepts(model) -> tuple[set, bool]:
    """The keyword names ``model.forward`` takes, and whether it takes any (``**kwargs``)."""
    parameters = inspect.signature(model.forward).parameters.values()
    names = {p.name for p in parameters}
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def model_inputs(model, extractor, batch, sample_rate: int, device, dtype) -> tuple:
    """``(args, kwargs)`` for ``model`` on equal-length signals ``batch`` (batch, samples).

    With a feature extractor: its tensors that ``forward`` takes, as keywords; without one:
    the waveform tensor as the first positional argument. ``output_hidden_states=True``
    is added where ``forward`` takes it.
    """
    import torch

    names, any_keyword = forward_accepts(model)
    extra = {"output_hidden_states": True} if any_keyword or \
        "output_hidden_states" in names else {}
    if extractor is None:
        wave = torch.as_tensor(batch).to(device, dtype)
        return (wave,), extra
    features = extractor(list(batch), sampling_rate=sample_rate, return_tensors="pt")
    kwargs = {k: (v.to(device, dtype) if torch.is_floating_point(v) else v.to(device))
              for k, v in features.items() if hasattr(v, "to") and
              (any_keyword or k in names) and k != "attention_mask"}
    return (), {**kwargs, **extra}


def output_tensors(output) -> dict:
    """The tensors a model returned, by name: a ``ModelOutput``'s tensor fields, a bare
    tensor as ``output``, a tuple's items as ``output_0`` …"""
    import torch

    if isinstance(output, torch.Tensor):
        return {"output": output}
    if isinstance(output, (tuple, list)) and not hasattr(output, "keys"):
        return {f"output_{k}": v for k, v in enumerate(output) if isinstance(v, torch.Tensor)}
    return {k: v for k, v in output.items() if isinstance(v, torch.Tensor)}


def output_layers(output, pooling: str) -> dict:
    """``{layer: (batch, dim)}``: every hidden state as ``layer_00`` … where the model
    returns ``hidden_states``, else every tensor it returns under its own name; each
    pooled over frames (see :func:`~sarl_hf.encoders.pooling.as_frames`)."""
    hidden = getattr(output, "hidden_states", None) if not isinstance(output, tuple) else None
    if hidden:
        named = {f"layer_{k:02d}": h for k, h in enumerate(hidden)}
    else:
        named = output_tensors(output)
    if not named:
        raise RuntimeError("the model returned no tensor to embed")
    layers = {}
    for name, value in named.items():
        frames = as_frames(value)
        layers[name] = pool_frames(frames, frames.shape[1], pooling)
    return layers


def describe_outputs(layers) -> str:
    """One sentence saying which outputs the layers are."""
    layers = list(layers)
    if layers and all(name.startswith("layer_") for name in layers):
        return f"every hidden state ({len(layers)}: hidden_states)"
    return (f"no hidden_states: the model's own outputs {', '.join(layers)}, each pooled over "
            "frames")
