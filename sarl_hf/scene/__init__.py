"""Scene: what to render, as plain data.

Takes the factor levels (:class:`FactorConfig`), a source bank, a count, a split and a
seed; gives :class:`SceneSpec` objects (room, listener, sources with their nominal levels
and dry clips, channel format, seed) that serialise to JSON and render the same bytes
anywhere. :func:`design` balances every factor's levels within a split; :func:`place`
finds a legal room and listener for given sources; :func:`sensitivity_design` moves one
factor at a time around anchor scenes.

To add a factor: a field in :class:`FactorConfig`, its levels in ``FactorConfig.levels``,
its draw in :mod:`.balanced` and its variant in :mod:`.variants` (then its task in
:mod:`sarl_hf.probing.tasks`).
"""

from .balanced import design
from .factors import (FACTORS, ROOM_FACTORS, SOURCE_FACTORS, FactorConfig, balanced_levels,
                      nominal_levels)
from .placement import is_legal, place
from .spec import ListenerSpec, RoomSpec, SceneSpec, SourceSpec
from .variants import factor_variants, sensitivity_design

__all__ = ["FACTORS", "SOURCE_FACTORS", "ROOM_FACTORS", "FactorConfig", "balanced_levels",
           "nominal_levels", "SceneSpec", "RoomSpec", "ListenerSpec", "SourceSpec", "design",
           "place", "is_legal", "sensitivity_design", "factor_variants"]
