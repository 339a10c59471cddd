"""The ``sarl`` command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import sys
import time

from .corpus import corpus_specs, format_summary, render_corpus, summarise
from .factors import FACTORS, FactorConfig
from .formats import FORMATS
from .render import MODES, Renderer
from .sources import BANK_NAMES, bank_from_name


def _formats(text: str) -> list[str]:
    names = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown format(s) {unknown}; choose from {FORMATS}")
    return names


def _add_render(sub):
    p = sub.add_parser("render", help="render a small balanced corpus to WAV + JSON",
                       description="Render balanced scenes of every split in every format "
                       "into OUT/<format>/<split>/<scene_id>.{wav,json}; rerunning resumes.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--train", type=int, default=48, help="scenes in the train split")
    p.add_argument("--validation", type=int, default=16, help="scenes in the validation split")
    p.add_argument("--test", type=int, default=16, help="scenes in the test split")
    p.add_argument("--formats", type=_formats, default=["mono"],
                   help=f"comma-separated channel formats from {','.join(FORMATS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz")
    p.add_argument("--duration", type=float, default=4.0, help="seconds per scene")
    p.add_argument("--num-sources", type=int, default=1, help="simultaneous sources")
    p.add_argument("--sources", default="procedural",
                   help=f"dry source bank: {' or '.join(BANK_NAMES)}")
    p.add_argument("--mode", choices=MODES, default="fast", help="renderer")
    p.add_argument("--sofa", default=None, help="SOFA HRTF file for binaural")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_render)


def _run_render(args) -> int:
    bank = bank_from_name(args.sources, args.seed)
    config = FactorConfig()
    sizes = {"train": args.train, "validation": args.validation, "test": args.test}
    print(f"designing {sum(sizes.values())} scenes ({bank.name} bank, "
          f"{len(bank.classes)} classes) ...", flush=True)
    specs = corpus_specs(sizes, args.seed, config, bank, sample_rate=args.sample_rate,
                         duration_s=args.duration, num_sources=args.num_sources)
    description = {"sizes": sizes, "seed": args.seed, "formats": args.formats,
                   "bank": bank.to_dict(), "factors": config.to_dict(), "mode": args.mode,
                   "sample_rate": args.sample_rate, "duration_s": args.duration,
                   "num_sources": args.num_sources}
    renderer = Renderer(bank=bank, mode=args.mode, sofa_path=args.sofa)
    start = time.perf_counter()
    rows = render_corpus(args.out, specs, args.formats, renderer, description,
                         progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    num_levels = {f: len(config.levels(f, bank.classes)) for f in FACTORS}
    print(format_summary(summarise(rows, num_levels)))
    reused = sum(row["reused"] for row in rows)
    print(f"{len(rows) - reused} scenes rendered, {reused} found complete from an earlier run, "
          f"in {elapsed:.1f} s; corpus in {args.out}/<format>/<split>/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sarl", description="SARL: spatial information in "
                                     "audio representations")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"sarl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
