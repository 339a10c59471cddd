"""Publishing: what ``sarl publish`` sends to the Hugging Face Hub, and the Spaces built as
the Hub builds them.

Takes a corpus folder, a Space's name, a model folder or card, and a Hub repository id;
gives the built Space folder and the files sent (or, with ``dry_run``, that would be):

- :func:`build_space`: a Space of ``spaces/`` as a self-contained folder (page, card with
  its Space header, pinned requirements, Debian packages, bundled results, ``sarl_hf``);
- :func:`publish_dataset`, :func:`publish_space`, :func:`publish_evaluate`,
  :func:`publish_model`: upload the corpus, a Space, the evaluate module, a model or its
  card; each lists what it sends, and sends nothing with ``dry_run``;
- Hub failures arrive as one-line :class:`~sarl_hf.errors.HubError`.
"""

from .hub import folder_files
from .hub import hub_errors
from .hub import upload_folder
from .space_build import EVALUATE_SPACE
from .space_build import PYTHON_VERSION
from .space_build import SPACES
from .space_build import build_space
from .targets import publish_dataset
from .targets import publish_evaluate
from .targets import publish_model
from .targets import publish_space

__all__ = ["build_space", "SPACES", "EVALUATE_SPACE", "PYTHON_VERSION", "publish_dataset",
           "publish_space", "publish_evaluate", "publish_model", "upload_folder",
           "folder_files", "hub_errors"]
