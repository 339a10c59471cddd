"""Results: the benchmark run end to end and what a reader sees of it.

Takes a corpus plan, a source bank and encoder names; gives ``results.json``, a Markdown
report and plots (:func:`run_bench`, every stage cached), one report from several runs
(:func:`combine_results`), and the logic of the explorer Space (:mod:`.explore`: scenes
shaped from exact factor values, one-factor sweeps, the room drawn from above), and an
encoder's model card with a run's results as its ``model-index`` (:func:`write_model_card`).
"""

from .bench import DEFAULT_ENCODERS, run_bench
from .combine import combine_results, merge_results, read_results
from .figures import plots
from .model_card import card_with_results, write_model_card
from .report import markdown, write_report

__all__ = ["run_bench", "DEFAULT_ENCODERS", "write_report", "markdown", "plots",
           "read_results", "merge_results", "combine_results", "card_with_results",
           "write_model_card"]
