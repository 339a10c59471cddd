"""The ``sarl_explorer`` Space: shape a spatial scene, hear it, see how far an encoder's
embedding moves when one factor moves, and read the SARL probe results.

The page is glue: every computation is in :mod:`sarl_hf.results.explore` (scenes, sweeps,
room plots, results files), :mod:`sarl_hf.rendering.renderer` and :mod:`sarl_hf.results`
(report, plots, results files). Endpoints (for ``gradio_client``): ``/render``, ``/sweep``
and ``/results``.

Environment: ``SARL_EXPLORER_SOURCES`` picks the source bank (default ``auto``: the General
MIDI bank where its Debian packages are installed, else the procedural one).
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402
from pathlib import Path  # noqa: E402

from sarl_hf.acoustics.formats import FORMATS  # noqa: E402
from sarl_hf.acoustics.rooms import SHAPES  # noqa: E402
from sarl_hf.encoders.registry import packaged_encoders  # noqa: E402
from sarl_hf.rendering.renderer import Renderer  # noqa: E402
from sarl_hf.results import explore  # noqa: E402
from sarl_hf.results.combine import merge_results, read_results  # noqa: E402
from sarl_hf.results.figures import plots  # noqa: E402
from sarl_hf.results.report import markdown  # noqa: E402
from sarl_hf.scene.factors import FACTORS  # noqa: E402

HERE = Path(__file__).resolve().parent
DEMO_RESULTS = HERE / "demo_results.json"
DEFAULTS = {"azimuth": 60.0, "elevation": 0.0, "distance": 1.5, "rt60": 0.5,
            "volume": 80.0, "shape": "shoebox"}
MAX_UPLOAD_MB = explore.MAX_RESULTS_BYTES // 2**20
ENCODERS_KEPT = 4  # encoders held in memory at once
FILES_KEPT_S = 3600  # rendered files older than this are removed
MAX_CONCURRENT = 2  # events of a kind running at once; the others wait in the queue
MAX_QUEUE = 16  # requests waiting at most; more are turned away at once
LOG = logging.getLogger("sarl_explorer")
#: Packaged encoders that need a package beyond sarl_hf's requirements: offered only where
#: it is installed (the Space does not install Resemblyzer, whose dependencies do not build).
NEEDS = {"ge2e": "resemblyzer"}


def offered_encoders():
    """The packaged encoders this page offers: those whose packages are installed."""
    return [name for name in packaged_encoders()
            if name not in NEEDS or importlib.util.find_spec(NEEDS[name]) is not None]


class Explorer:
    """What the page's events share: the renderer, the loaded encoders, a work folder.

    Parameters
    ----------
    sources : str
        Source bank name (``auto``, ``procedural``, ``gm``).
    workdir : str or Path, optional
        Where rendered audio and report plots are written (default: a new temporary
        folder); nothing else is written.
    """

    def __init__(self, sources="auto", workdir=None):
        self.renderer = Renderer(sources)
        self.classes = list(self.renderer.bank.classes)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sarl_explorer_"))
        self._encoders = OrderedDict()
        self.demo = read_results(DEMO_RESULTS) if DEMO_RESULTS.exists() else None

    def encoder(self, name, channel_format):
        """The encoder ``name`` for scenes of ``channel_format``, loaded once."""
        key = (explore.check_encoder_name(name), channel_format)
        if key not in self._encoders:
            self._encoders[key] = explore.open_encoder(name, channel_format)
            if len(self._encoders) > ENCODERS_KEPT:
                self._encoders.popitem(last=False)
        self._encoders.move_to_end(key)
        return self._encoders[key]

    def _tidy(self):
        cutoff = time.time() - FILES_KEPT_S
        for path in self.workdir.glob("*.wav"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)

    def render(self, channel_format, azimuth, elevation, distance, sound_class, rt60, volume,
               shape, duration_s, seed):
        """Render one scene: (WAV path, room figure, Markdown of its labels)."""
        values = dict(azimuth=azimuth, elevation=elevation, distance=distance,
                      rt60=rt60, volume=volume, shape=shape, **{"class": sound_class})
        spec = explore.scene_spec(values, channel_format, duration_s, _seed(seed),
                                  self.renderer.bank)
        scene = self.renderer.render(spec)
        self._tidy()
        digest = hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]
        path = self.workdir / f"scene-{digest}.wav"
        gain = explore.write_wav(scene, path)
        return str(path), explore.room_figure(spec), _labels_markdown(scene, gain)

    def sweep(self, encoder_name, channel_format, azimuth, elevation, distance, sound_class,
              rt60, volume, shape, duration_s, seed, factor, n_points, metric):
        """Sweep one factor: (curve figure, the sweep as a dict)."""
        values = dict(azimuth=azimuth, elevation=elevation, distance=distance,
                      rt60=rt60, volume=volume, shape=shape, **{"class": sound_class})
        encoder = self.encoder(encoder_name, channel_format)
        result = explore.sweep(encoder, self.renderer, values, factor, int(n_points),
                               channel_format, duration_s, _seed(seed), metric=metric)
        return explore.sweep_figure(result), result.to_dict()

    def results(self, upload=None, compare=True):
        """The report of the demo results, or of an upload (added to the demo's when
        ``compare``): (Markdown table, PNG paths)."""
        if upload is None:
            if self.demo is None:
                raise ValueError("no demo results are bundled; upload a results.json")
            results = self.demo
        else:
            results = read_results(upload, max_bytes=explore.MAX_RESULTS_BYTES,
                                   max_rows=explore.MAX_RESULT_ROWS)
            if compare and self.demo is not None:
                results = merge_results(self.demo, results)
        text = markdown(results)
        folder = self.workdir / f"report-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        images = sorted(folder.glob("*.png")) if folder.exists() else plots(results, folder)
        return text, [str(p) for p in images]


def _seed(seed):
    if seed is None or float(seed) != int(seed) or int(seed) < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _labels_markdown(scene, gain):
    labels, spec = scene.labels, scene.spec
    rows = [("channels", f"{scene.audio.shape[0]} ({', '.join(scene.channel_names)}), "
                         f"{scene.audio.shape[1]} samples at {scene.sample_rate} Hz"),
            ("source", f"{labels['class_name']} (clip {labels['clip_id']})"),
            ("direct path", f"azimuth {labels['azimuth_deg']:.1f}°, elevation "
                            f"{labels['elevation_deg']:.1f}°, {labels['distance_m']:.2f} m"),
            ("RT60", f"{labels['rt60_s']:.2f} s measured ({labels['rt60_target_s']:.2f} s "
                     "target)"),
            ("DRR / C50", f"{labels['drr_db']:.1f} dB / {labels['c50_db']:.1f} dB"),
            ("room", f"{labels['shape_name']}, {labels['volume_m3']:.0f} m³, height "
                     f"{spec.room.height_m:.2f} m, absorption {labels['absorption']:.2f}")]
    if gain < 1:
        rows.append(("playback", f"scaled by {gain:.2f} to avoid clipping"))
    return "\n".join(["| scene | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def _on_page(fn):
    """Run ``fn``; any failure becomes a message on the page (gr.Error), never a trace."""
    import functools

    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except (ValueError, RuntimeError, OSError) as error:
            raise gr.Error(str(error)) from None
        except Exception as error:  # noqa: BLE001 - the page shows a message, the log the trace
            LOG.exception("sarl_explorer: %s failed", fn.__name__)
            raise gr.Error(f"{type(error).__name__}: {error}") from None

    return wrapper


def build_demo(sources=None, workdir=None):
    """The Gradio page (not launched)."""
    import gradio as gr

    app = Explorer(sources or os.environ.get("SARL_EXPLORER_SOURCES", "auto"), workdir)
    ranges = explore.factor_ranges()
    with gr.Blocks(title="SARL explorer", delete_cache=(FILES_KEPT_S, FILES_KEPT_S)) as demo:
        gr.Markdown("# SARL explorer\nShape a spatial scene, listen to it (binaural: use "
                    "headphones), and see how far a frozen audio encoder's embedding moves "
                    "when one factor moves. The *Probe results* tab shows the SARL "
                    "benchmark's linear-probe results.")
        with gr.Tab("Scene and sweep"):
            with gr.Row():
                with gr.Column(scale=1):
                    encoder = gr.Dropdown(offered_encoders(), value="sarl-spatial",
                                          allow_custom_value=True, label="encoder (or a Hub "
                                          "model id, e.g. facebook/wav2vec2-base)",
                                          elem_id="encoder")
                    channel_format = gr.Radio(list(FORMATS), value="binaural",
                                              label="channel format", elem_id="format")
                    scene = [
                        gr.Slider(*ranges["azimuth"], value=DEFAULTS["azimuth"], step=1,
                                  label="azimuth (deg, 0 = front, 90 = left)",
                                  elem_id="azimuth"),
                        gr.Slider(*ranges["elevation"], value=DEFAULTS["elevation"], step=1,
                                  label="elevation (deg)", elem_id="elevation"),
                        gr.Slider(*ranges["distance"], value=DEFAULTS["distance"], step=0.05,
                                  label="distance (m)", elem_id="distance"),
                        gr.Dropdown(app.classes, value=app.classes[0], label="class",
                                    elem_id="class"),
                        gr.Slider(*ranges["rt60"], value=DEFAULTS["rt60"], step=0.05,
                                  label="RT60 (s)", elem_id="rt60"),
                        gr.Slider(*ranges["volume"], value=DEFAULTS["volume"], step=5,
                                  label="volume (m³)", elem_id="volume"),
                        gr.Dropdown(list(SHAPES), value=DEFAULTS["shape"], label="shape",
                                    elem_id="shape"),
                        gr.Slider(0.5, explore.MAX_DURATION_S, value=2.0, step=0.5,
                                  label="duration (s)", elem_id="duration"),
                        gr.Number(0, precision=0, minimum=0, label="seed (clip, room, "
                                  "listener)", elem_id="seed")]
                    render_button = gr.Button("Render", variant="primary", elem_id="render")
                with gr.Column(scale=2):
                    audio = gr.Audio(type="filepath", label="scene", elem_id="audio",
                                     interactive=False)
                    room = gr.Plot(format="png", label="room (seen from above)",
                                   elem_id="room")
                    labels = gr.Markdown(elem_id="labels")
            with gr.Row():
                factor = gr.Dropdown(list(FACTORS), value="azimuth", label="factor to sweep",
                                     elem_id="factor")
                n_points = gr.Slider(explore.MIN_SWEEP_POINTS, explore.MAX_SWEEP_POINTS,
                                     value=8, step=1, label="points (numeric factors)",
                                     elem_id="points")
                metric = gr.Radio(["cosine", "euclidean"], value="cosine", label="distance",
                                  elem_id="metric")
                sweep_button = gr.Button("Sweep", variant="primary", elem_id="sweep")
            curve = gr.Plot(format="png", label="sensitivity curve", elem_id="curve")
            sweep_json = gr.JSON(label="sweep", elem_id="sweep_json")
        with gr.Tab("Probe results"):
            gr.Markdown("The bundled results come from `make demo` (`sarl bench` on 200 "
                        "binaural scenes). Upload a `results.json` of `sarl bench` (at most "
                        f"{MAX_UPLOAD_MB} MB) to see yours, next to the demo's or alone.")
            with gr.Row():
                upload = gr.File(file_types=[".json"], type="filepath",
                                 label="results.json", elem_id="upload")
                compare = gr.Checkbox(True, label="compare with the demo results",
                                      elem_id="compare")
                show = gr.Button("Show", variant="primary", elem_id="show")
            table, images = app.results() if app.demo else ("No demo results bundled.", [])
            results_md = gr.Markdown(table, elem_id="results_table")
            gallery = gr.Gallery(images, label="plots", columns=3, object_fit="contain",
                                 height="auto", elem_id="results_plots")

        render_button.click(_on_page(app.render), [channel_format] + scene,
                            [audio, room, labels], api_name="render", concurrency_id="scene")
        sweep_button.click(_on_page(app.sweep),
                           [encoder, channel_format] + scene + [factor, n_points, metric],
                           [curve, sweep_json], api_name="sweep", concurrency_id="scene")
        show.click(_on_page(app.results), [upload, compare], [results_md, gallery],
                   api_name="results")
    return demo.queue(max_size=MAX_QUEUE, default_concurrency_limit=MAX_CONCURRENT)


if __name__ == "__main__":
    build_demo().launch(max_file_size=f"{MAX_UPLOAD_MB}mb")
