"""Model cards with the results of a ``sarl bench`` run (the demo's results.json, made by
``make demo``), and the reference encoders' cards true to what the package does."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from conftest import REPO
from huggingface_hub import ModelCard

from sarl_hf.citation import CITATION
from sarl_hf.probing.tasks import TASK_NAMES
from sarl_hf.probing.tasks import TASKS
from sarl_hf.results.model_card import RESULTS_HEADING
from sarl_hf.results.model_card import card_with_results
from sarl_hf.results.model_card import write_model_card
from sarl_hf.results.selection import best_metrics

DEMO_RESULTS = REPO / "spaces" / "sarl_explorer" / "demo_results.json"
REFERENCE_CARDS = ("sarl-spatial", "sarl-logmel")


@pytest.fixture(scope="module")
def results():
    return json.loads(DEMO_RESULTS.read_text())


def card_text(name: str) -> str:
    return (REPO / "model_cards" / name / "README.md").read_text()


@pytest.mark.parametrize("name", REFERENCE_CARDS)
def test_the_model_index_holds_every_task_of_every_format(name, results):
    card = ModelCard(card_with_results(card_text(name), results, name))
    assert card.data.model_name == name and card.data.library_name == "transformers"
    got = {(r.dataset_config, r.metric_name.split()[0], r.metric_type): r
           for r in card.data.eval_results}
    for channel_format, entry in results["encoders"][name].items():
        for task in TASK_NAMES:
            metrics, layer = best_metrics(entry, task), entry["best_layer"][task]
            accuracy = got[(channel_format, task, "accuracy")]
            assert accuracy.metric_value == pytest.approx(100 * metrics["accuracy"], abs=0.01)
            assert accuracy.metric_name.endswith(f"layer {layer}")
            assert (accuracy.dataset_split, accuracy.task_type) == ("test", "audio-classification")
            metric = TASKS[task].regression_metric
            if metric:
                value = got[(channel_format, task, metric)].metric_value
                assert value == pytest.approx(metrics[metric], rel=1e-3)
    assert len(got) == len(card.data.eval_results)  # no entry twice


def test_the_results_section_is_replaced_and_the_rest_kept(results):
    original = card_text("sarl-spatial")
    first = card_with_results(original, results, "sarl-spatial")
    assert card_with_results(first, results, "sarl-spatial") == first
    changed = copy.deepcopy(results)
    entry = changed["encoders"]["sarl-spatial"]["binaural"]
    layer = entry["best_layer"]["azimuth"]
    before = 100 * entry["layers"][layer]["azimuth"]["accuracy"]
    assert f"| azimuth | `{layer}` | {before:.1f} [" in first
    entry["layers"][layer]["azimuth"]["accuracy"] = 0.875
    second = card_with_results(first, changed, "sarl-spatial")
    assert second.count(RESULTS_HEADING) == 1
    assert f"| azimuth | `{layer}` | 87.5 [" in second
    assert f"| azimuth | `{layer}` | {before:.1f} [" not in second
    body = ModelCard(original).text
    section = re.search(rf"{re.escape(RESULTS_HEADING)}\n.*?(?=^## )", ModelCard(second).text,
                        re.M | re.S).group(0)
    assert ModelCard(second).text.replace(section, "") == body
    assert ModelCard(second).text.index(RESULTS_HEADING) < ModelCard(second).text.index(
        "## Citation")


def test_a_card_without_a_citation_gets_the_section_at_the_end(results):
    text = card_with_results("---\nlicense: apache-2.0\n---\n\n# x\n\nBody.\n", results,
                             "sarl-logmel")
    assert text.rstrip().endswith("|") and "Body.\n\n" + RESULTS_HEADING in text


def test_an_unknown_encoder_or_a_bad_file_is_refused(results, tmp_path):
    with pytest.raises(ValueError, match=r"no encoder 'wav2vec2-base' \(they hold: sarl-logmel"):
        card_with_results(card_text("sarl-spatial"), results, "wav2vec2-base")
    bad = tmp_path / "results.json"
    bad.write_text('{"encoders": {}}')
    with pytest.raises(ValueError, match="not a sarl bench results file"):
        write_model_card(REPO / "model_cards" / "sarl-spatial" / "README.md", bad,
                         tmp_path / "card.md")


def test_write_model_card_names_the_encoder_after_the_card_folder(tmp_path):
    out = write_model_card(REPO / "model_cards" / "sarl-logmel" / "README.md", DEMO_RESULTS,
                           tmp_path / "README.md")
    card = ModelCard.load(out)
    assert card.data.model_name == "sarl-logmel"
    assert card.data.eval_results[0].dataset_config == "binaural"


@pytest.mark.parametrize("name", REFERENCE_CARDS)
def test_the_reference_cards_say_how_to_load_them_and_how_to_cite(name):
    text = card_text(name)
    data = ModelCard(text).data
    assert (data.library_name, data.pipeline_tag, data.license) == \
        ("transformers", "feature-extraction", "apache-2.0")
    for heading in ("## How to load", "### With `transformers` only", "## Intended use",
                    "## Limitations", "## Citation"):
        assert f"\n{heading}\n" in text, heading
    hub_user = re.search(r"^```py\n(.*?)^```", text, re.M | re.S).group(1)
    assert "import sarl_hf" not in hub_user and "from sarl_hf" not in hub_user
    assert hub_user.count("trust_remote_code=True") == 2  # AutoModel and AutoFeatureExtractor
    cited = re.search(r"^```bibtex\n(.*?)^```", text, re.M | re.S).group(1)
    assert cited.strip() == CITATION.strip()
    code = Path(REPO / "sarl_hf" / "encoders")
    for module in re.findall(r"`(reference_\w+|wavefront)\.py`", text):
        assert (code / f"{module}.py").is_file(), module
