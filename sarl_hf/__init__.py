"""sarl_hf: how much spatial information do frozen audio encoders keep?

The scene simulator: a balanced design of the seven SARL factors rendered into
multichannel audio with exact labels.

>>> from sarl_hf import design, Renderer
>>> specs = design(16, split="train", seed=0)
>>> scene = Renderer().render(specs[0].with_format("foa"))
>>> scene.audio.shape
(4, 64000)
"""

from .acoustics.formats import FORMATS, make_format
from .acoustics.render import RenderedScene, Renderer
from .scene.balanced import design
from .scene.factors import FACTORS, FactorConfig
from .scene.spec import ListenerSpec, RoomSpec, SceneSpec, SourceSpec
from .scene.variants import sensitivity_design
from .sources import DatasetBank, FolderBank, ProceduralBank

__version__ = "0.1.0"
__all__ = ["design", "sensitivity_design", "FactorConfig", "FACTORS", "FORMATS",
           "make_format", "Renderer", "RenderedScene", "SceneSpec", "RoomSpec",
           "ListenerSpec", "SourceSpec", "ProceduralBank", "FolderBank", "DatasetBank"]
