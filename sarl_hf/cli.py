"""The ``sarl`` command line: it parses, forwards to the library and prints what came back.

Library errors name the library's arguments; here each named error gets the flag that
fixes it (:data:`HINTS`, :data:`FLAGS`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path

from . import __version__
from .acoustics.formats import FORMATS, check_formats, format_names
from .cli_publish import add_publish
from .cli_results import add_report
from .cli_results import add_verify
from .corpus.card import default_config
from .corpus.generation import generate
from .corpus.plan import CorpusPlan
from .corpus.summary import corpus_summary, format_summary, summarise
from .corpus.wav_folder import render_wav_folder
from .encoders.registry import encoder_names
from .errors import (ArgumentRequired, CorpusMismatch, CorruptFile, FolderInUse, ForeignFiles,
                     HubError, IncompleteCorpus, ResumeRequired)
from .processes import exit_on_sigterm
from .rendering.renderer import MODES
from .scene.factors import FactorConfig
from .sources import bank_from_name, bank_names
from .splits import SPLITS

#: How the command line fixes a named library error, per subcommand (None: any).
HINTS = {
    (ForeignFiles, None): "or use another --out",
    (CorpusMismatch, "report"): "pass --other-corpora to put them in one report anyway",
    (CorpusMismatch, None): "use another --out or remove it",
    (ResumeRequired, None): "pass --resume to finish or check it",
    (IncompleteCorpus, None): "run `sarl generate ... --resume` to finish it",
    (CorruptFile, None): "`sarl verify PATH` lists every problem of a folder",
}
#: The flag of a library argument an :class:`~sarl_hf.errors.ArgumentRequired` names.
FLAGS = {"channel_format": "--format", "trust_remote_code": "--trust-remote-code"}


#: The ``--device`` help of every command that runs a model: one default rule.
DEVICE_HELP = ("torch device (default: cuda when this machine has one, else cpu; under "
               "`accelerate launch`, each process's own GPU)")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows every option's default, except where the help text already says it
    or there is none to show (None, False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or any(action.default is nothing for nothing in
                                        (None, False, argparse.SUPPRESS)):  # 0 is a default
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors take one line: what is wrong, and where help is;
    its help (and its subcommands') shows the defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} "
                     "--help)\n")


def _formats(text: str) -> list[str]:
    try:
        return list(check_formats(f.strip() for f in text.split(",") if f.strip()))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _scene_options(formats: list[str]) -> argparse.ArgumentParser:
    """The parent parser of the options every scene-making command shares."""
    parent = _Parser(add_help=False)
    parent.add_argument("--formats", type=_formats, default=formats,
                        help=f"comma-separated channel formats from {','.join(format_names())}"
                        f" (default {','.join(formats)})")
    parent.add_argument("--seed", type=int, default=0, help="seed of the scene design")
    parent.add_argument("--sample-rate", type=int, default=16000, help="Hz")
    parent.add_argument("--duration", type=float, default=4.0, help="seconds per scene")
    parent.add_argument("--sources", default="procedural",
                        help=f"dry source bank: {' or '.join(bank_names())}")
    parent.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parent


def _add_render(sub):
    p = sub.add_parser("render", help="render a small balanced corpus to WAV + JSON",
                       parents=[_scene_options(["mono"])],
                       description="Render balanced scenes of every split in every format "
                       "into OUT/<format>/<split>/<scene_id>.{wav,json}; rerunning resumes.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--train", type=int, default=48, help="scenes in the train split")
    p.add_argument("--validation", type=int, default=16, help="scenes in the validation split")
    p.add_argument("--test", type=int, default=16, help="scenes in the test split")
    p.add_argument("--num-sources", type=int, default=1, help="simultaneous sources")
    p.add_argument("--mode", choices=MODES, default="fast", help="renderer")
    p.add_argument("--sofa", default=None, help="SOFA HRTF file for binaural")
    p.set_defaults(func=_run_render)


def _run_render(args) -> int:
    bank = bank_from_name(args.sources, args.seed)
    sizes = {"train": args.train, "validation": args.validation, "test": args.test}
    print(f"designing {sum(sizes.values())} scenes ({bank.name} bank, "
          f"{len(bank.classes)} classes) ...", flush=True)
    start = time.perf_counter()
    rows = render_wav_folder(args.out, sizes, args.formats, seed=args.seed, bank=bank,
                             sample_rate=args.sample_rate, duration_s=args.duration,
                             num_sources=args.num_sources, mode=args.mode,
                             sofa_path=args.sofa, progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    print(format_summary(summarise(rows, FactorConfig().level_counts(bank.classes))))
    reused = sum(row["reused"] for row in rows)
    print(f"{len(rows) - reused} scenes rendered, {reused} found complete from an earlier run, "
          f"in {elapsed:.1f} s; corpus in {args.out}/<format>/<split>/")
    return 0


def _add_generate(sub):
    p = sub.add_parser("generate", help="write the corpus as a hub-ready dataset folder",
                       parents=[_scene_options(list(FORMATS))],
                       description="Render the SARL corpus into OUT as parquet shards per "
                       "config and split with a dataset card; load it with "
                       "datasets.load_dataset(OUT, CONFIG). Shards are written atomically "
                       "and recorded with checksums; --resume finishes or repairs a run.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--scenes", type=int, default=1000,
                   help="scenes of every format config, split 60/20/20 (default 1000)")
    p.add_argument("--multisource-scenes", type=int, default=None,
                   help="scenes of the multisource config (default scenes/4; 0: none)")
    p.add_argument("--sensitivity-anchors", type=int, default=None,
                   help="anchor scenes of the sensitivity config (default max(1, "
                   "scenes/100); 0: none)")
    p.add_argument("--scenes-per-shard", type=int, default=500,
                   help="rows per parquet file at most (files also stay under 500 MB; "
                   "default 500)")
    p.add_argument("--shards-per-split", type=int, default=8,
                   help="parquet files per split at least, one per DataLoader worker "
                   "(default 8)")
    p.add_argument("--mode", choices=MODES, default="fast", help="renderer")
    p.add_argument("--sofa", default=None, help="SOFA HRTF file for binaural")
    p.add_argument("--num-proc", type=int, default=1, help="parallel processes")
    p.add_argument("--num-shards", type=int, default=1,
                   help="split the job into this many slices (for several machines)")
    p.add_argument("--shard-index", type=int, default=0, help="the slice this run renders")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted run in OUT; verify and rebuild its shards")
    p.set_defaults(func=_run_generate)


def _run_generate(args) -> int:
    bank = bank_from_name(args.sources, args.seed)
    plan = CorpusPlan(scenes=args.scenes, formats=tuple(args.formats), seed=args.seed,
                      sample_rate=args.sample_rate, duration_s=args.duration,
                      multisource_scenes=args.multisource_scenes,
                      sensitivity_anchors=args.sensitivity_anchors,
                      scenes_per_shard=args.scenes_per_shard,
                      shards_per_split=args.shards_per_split, mode=args.mode,
                      bank=bank.to_dict(), sofa_path=args.sofa)
    print(f"designing the corpus ({bank.name} bank, {len(bank.classes)} classes; configs "
          f"{', '.join(plan.configs())}) ...", flush=True)
    report = generate(args.out, plan, bank, num_proc=args.num_proc, num_shards=args.num_shards,
                      shard_index=args.shard_index, resume=args.resume,
                      progress=not args.no_progress)
    rate = report.scenes_rendered / report.elapsed_s if report.elapsed_s else 0.0
    print(f"{len(report.rendered)} shards rendered ({report.scenes_rendered} scenes, "
          f"{rate:.1f} scenes/s), {len(report.reused)} found complete, in "
          f"{report.elapsed_s:.1f} s")
    if report.complete:
        print(corpus_summary(args.out, plan, bank))
        print(f"corpus complete: {args.out}/README.md, manifest.json, data/<config>/; load it "
              f"with datasets.load_dataset({args.out!r}) (config "
              f"{default_config(plan.configs())!r}) or datasets.load_dataset({args.out!r}, "
              "CONFIG)")
    else:
        print(f"{len(report.missing)} shards of other slices are not here yet; gather every "
              f"slice into one folder and run again with --resume to finish the card")
    return 0


def _add_embed(sub):
    p = sub.add_parser("embed", help="embed a generated corpus with an encoder (cached)",
                       description="Embed every split of one config of a corpus folder with "
                       "an encoder; per-layer embeddings and labels go to a cache keyed by "
                       "encoder and corpus fingerprints, so a second run is a cache hit. "
                       "Under `accelerate launch -m sarl_hf.cli embed ...` the shards are "
                       "split over the processes.")
    p.add_argument("--corpus", required=True, help="folder written by sarl generate")
    p.add_argument("--config", required=True,
                   help="config to embed, e.g. stereo, multisource_stereo, or multisource "
                   "with --format")
    p.add_argument("--encoder", required=True, help=", ".join(encoder_names()))
    p.add_argument("--cache", default="out/embeddings", help="cache root")
    p.add_argument("--splits", type=_names, default=None,
                   help=f"comma-separated splits from {','.join(SPLITS)} (default: every "
                   "split the config has)")
    p.add_argument("--format", default=None, dest="channel_format",
                   help="with --config multisource or sensitivity: the channel format "
                   "(reads the config <kind>_<format>)")
    p.add_argument("--channel-policy", default=None,
                   help="downmix, per_channel_concat, channel:K or native (default: the "
                   "encoder's)")
    p.add_argument("--pooling", default=None, help="mean, max, mean+std or first "
                   "(transformers models)")
    p.add_argument("--batch-size", type=int, default=32, help="scenes per batch")
    p.add_argument("--device", default=None, help=DEVICE_HELP)
    p.add_argument("--dtype", default=None, help="float32, float16 or bfloat16")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow code from the model repo to run")
    p.add_argument("--allow-tf32", action="store_true",
                   help="let GPU convolutions use TF32: faster, but embeddings move by ~1e-3 "
                   "and depend on the batch")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_embed)


def _run_embed(args) -> int:
    from .embeddings.embed import embed_in_processes

    options = {k: v for k, v in dict(channel_policy=args.channel_policy, pooling=args.pooling,
                                     dtype=args.dtype,
                                     trust_remote_code=args.trust_remote_code or None,
                                     allow_tf32=args.allow_tf32 or None).items()
               if v is not None}
    encoder, report, state = embed_in_processes(
        args.encoder, args.corpus, args.config, args.cache, args.splits,
        channel_format=args.channel_format, device=args.device, batch_size=args.batch_size,
        progress=not args.no_progress, **options)
    if state.is_main_process:
        found = f"cache hit for {', '.join(report.hits)}; " if report.hits else ""
        print(f"{encoder.name} on {args.config}: {found}{len(report.embedded)} parts embedded "
              f"by process 0 of {state.num_processes}; embeddings in {report.folder}")
    return 0


def _add_bench(sub):
    from .results.bench import DEFAULT_ENCODERS

    p = sub.add_parser("bench", help="the whole benchmark: corpus, embeddings, probe, report",
                       parents=[_scene_options(["binaural"])],
                       description="Generate (or reuse) the corpus in OUT/corpus, embed it "
                       "with each encoder (cached in OUT/embeddings), probe every layer on "
                       "the seven tasks, run the sensitivity analysis, score audio-text "
                       "retrieval of encoders with a text tower on the multisource scenes, "
                       "and write OUT/results.json, OUT/results.md and PNG plots.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--encoders", type=_names, default=list(DEFAULT_ENCODERS),
                   help=f"comma-separated encoder names (default {','.join(DEFAULT_ENCODERS)};"
                   " see sarl embed --help)")
    p.add_argument("--scenes", type=int, default=400, help="scenes per format (60/20/20)")
    p.add_argument("--sensitivity-anchors", type=int, default=8,
                   help="anchor scenes of the sensitivity analysis (at least 2; 0: none)")
    p.add_argument("--multisource-scenes", type=int, default=0,
                   help="scenes of 2-3 sources (60/20/20), probed with assignment scoring "
                   "(default 0: none)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--mlp", action="store_true",
                   help="also run the MLP probe (one hidden layer, same protocol) on each "
                   "task at the layer the linear probe chose; slow on a CPU for large corpora")
    p.add_argument("--device", default=None, help=DEVICE_HELP + "; for encoders and probe")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow Hub models to run the modelling code of their repository")
    p.set_defaults(func=_run_bench)


def _run_bench(args) -> int:
    from .results.bench import run_bench

    bank = bank_from_name(args.sources, args.seed)
    plan = CorpusPlan(scenes=args.scenes, formats=tuple(args.formats), seed=args.seed,
                      sample_rate=args.sample_rate, duration_s=args.duration,
                      multisource_scenes=args.multisource_scenes,
                      sensitivity_anchors=args.sensitivity_anchors, bank=bank.to_dict())
    print(f"sarl bench: {len(args.encoders)} encoders on {', '.join(plan.formats)} "
          f"({args.scenes} scenes, {bank.name} bank) ...", flush=True)
    run_bench(args.out, plan, bank, args.encoders, n_boot=args.n_boot, seed=args.seed,
              device=args.device, progress=not args.no_progress, mlp=args.mlp,
              trust_remote_code=args.trust_remote_code)
    print((Path(args.out) / "results.md").read_text())
    heatmap = ", sensitivity.png" if plan.sensitivity_anchors else ""
    print(f"report: {args.out}/results.md, results.json, accuracy.png, layers.png{heatmap}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sarl", description="SARL: spatial information in audio "
                     "representations")
    parser.add_argument("--version", action="version", version=f"sarl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    _add_generate(sub)
    _add_embed(sub)
    _add_bench(sub)
    add_report(sub)
    add_verify(sub)
    add_publish(sub)
    return parser


def error_message(err: Exception, command: str) -> str:
    """``err``'s message, on one line, with the command line's fix for it where it has
    one."""
    message = " ".join(str(err).split())
    for (kind, where), hint in HINTS.items():
        if isinstance(err, kind) and where in (command, None):
            return f"{message}; {hint}"
    if isinstance(err, ArgumentRequired) and err.argument in FLAGS:
        return f"{message} (the {FLAGS[err.argument]} option)"
    return message


@contextlib.contextmanager
def _library_log_on_stderr():
    """The library's messages (loggers under ``sarl_hf``) at INFO, one line each on
    stderr, where the progress bars are too; as they were again afterwards."""
    library = logging.getLogger("sarl_hf")
    handler, level = logging.StreamHandler(sys.stderr), library.level
    handler.setFormatter(logging.Formatter("%(message)s"))
    library.addHandler(handler)
    library.setLevel(logging.INFO)
    try:
        yield
    finally:
        library.removeHandler(handler)
        library.setLevel(level)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # a terminated run unwinds: partial files, locks, workers
        with _library_log_on_stderr(), exit_on_sigterm():
            return args.func(args)
    except (ValueError, FileNotFoundError, ImportError, FolderInUse, HubError) as err:
        print(f"sarl {args.command}: error: {error_message(err, args.command)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
