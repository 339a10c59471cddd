"""What an encoder is, for the paper's comparisons: family, input configuration, training.

Every encoder's :meth:`~sarl_hf.encoders.base.Encoder.metadata` gives one dict:

- ``name``, ``family`` (e.g. ``wav2vec2``, ``CREPE``, ``sarl reference``);
- ``input_channels`` (what the model takes natively: 1, 2, 4, or None for any) and
  ``layout`` (:data:`LAYOUTS`: ``mono``, ``stereo``, ``binaural``, ``foa``, or ``any``);
- ``sample_rate`` (Hz), ``channel_policy`` (how a scene's channels reach the model);
- ``paradigm`` (:data:`PARADIGMS`, None when unknown) and ``training_data`` (None when
  unknown; ``"none"`` for handcrafted features);
- ``parameters``: learned parameters of the network that computes the embeddings (0 for
  handcrafted features, None when unknown);
- ``source``: where it comes from (``package`` and ``package_version``, ``hub_id`` and
  ``revision``, ``folder``, ``hear_module``: those that apply).

None of this enters the fingerprint: it describes the encoder, it does not change what
the encoder computes. :func:`input_configuration` names what reached the model in a run
(the report groups results by it and by paradigm).
"""

from __future__ import annotations

import importlib.metadata

#: Training paradigms (the report's groups); an encoder may also leave it unknown (None).
PARADIGMS = ("supervised", "self-supervised masked prediction",
             "self-supervised equivariance", "contrastive audio-text",
             "codec reconstruction", "handcrafted")
#: Channel layouts a model may take natively; ``any``: any number of channels.
LAYOUTS = ("mono", "stereo", "binaural", "foa", "any")
#: What :func:`input_configuration` calls a scene seen one channel at a time.
PER_CHANNEL = "mono per channel"


def check_paradigm(paradigm: str | None) -> str | None:
    """``paradigm`` if it is one of :data:`PARADIGMS` or None, else ValueError."""
    if paradigm is not None and paradigm not in PARADIGMS:
        raise ValueError(f"paradigm must be one of {PARADIGMS} or None, got {paradigm!r}")
    return paradigm


def check_layout(layout: str | None) -> str | None:
    """``layout`` if it is one of :data:`LAYOUTS` or None, else ValueError."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS} or None, got {layout!r}")
    return layout


def default_layout(num_channels: int | None) -> str:
    """The layout a channel count implies when a model declares none: 1 → ``mono``,
    None → ``any``, 2 → ``stereo``, 4 → ``foa``, others ``any``."""
    return {1: "mono", None: "any", 2: "stereo", 4: "foa"}.get(num_channels, "any")


def package_source(distribution: str) -> dict:
    """``{"package": distribution, "package_version": its installed version or None}``."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"package": distribution, "package_version": version}


def parameter_count(module) -> int | None:
    """Parameters of a torch module (or of several: a list), None for anything else."""
    modules = module if isinstance(module, (list, tuple)) else [module]
    if not all(hasattr(m, "parameters") for m in modules):
        return None
    return int(sum(p.numel() for m in modules for p in m.parameters()))


def describe(encoder) -> dict:
    """The metadata dict of ``encoder`` (see the module docstring) from its attributes
    (``family``, ``channel_layout``, ``paradigm``, ``training_data``) and its methods
    ``parameter_count()`` and ``source()``."""
    layout = check_layout(getattr(encoder, "channel_layout", None)) or \
        default_layout(encoder.num_channels)
    return {"name": encoder.name, "family": getattr(encoder, "family", None) or encoder.name,
            "input_channels": encoder.num_channels, "layout": layout,
            "sample_rate": int(encoder.sample_rate), "channel_policy": encoder.channel_policy,
            "paradigm": check_paradigm(getattr(encoder, "paradigm", None)),
            "training_data": getattr(encoder, "training_data", None),
            "parameters": encoder.parameter_count(), "source": encoder.source()}


def input_configuration(metadata: dict, channel_format: str | None = None) -> str:
    """What reached the model in a run: ``mono`` (a downmix or one channel),
    ``mono per channel`` (each channel alone), or, for ``native``, the scenes' channel
    format (else the model's layout).

    Parameters
    ----------
    metadata : dict
        From :func:`describe` (``channel_policy``, ``layout``).
    channel_format : str, optional
        Format of the scenes embedded (``binaural``, ``foa``, ...).
    """
    policy = metadata.get("channel_policy") or "downmix"
    if policy == "per_channel_concat":
        return PER_CHANNEL
    if policy != "native" or metadata.get("input_channels") == 1:
        return "mono"
    return channel_format or metadata.get("layout") or "any"
