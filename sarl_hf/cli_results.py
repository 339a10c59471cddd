"""``sarl report`` and ``sarl verify``: the command line of :mod:`sarl_hf.results.combine`
and :mod:`sarl_hf.embeddings.verify` (it parses, forwards and prints)."""

from __future__ import annotations

from pathlib import Path


def add_report(sub):
    """Add ``report`` to ``sub``."""
    p = sub.add_parser("report", help="one report from the results.json of several bench runs",
                       description="Combine the results.json files of sarl bench runs (for "
                       "example, encoders benchmarked on different nodes on the same corpus) "
                       "into OUT/results.json, OUT/results.md and PNG plots. Encoders keep "
                       "the order of the files; a repeated name gets its file's folder name.")
    p.add_argument("results", nargs="+", help="results.json files of sarl bench")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--other-corpora", action="store_true",
                   help="accept results measured on different corpora (their plans differ); "
                   "their numbers are then not comparable")
    p.set_defaults(func=_run_report)


def _run_report(args) -> int:
    from .results.combine import combine_results
    from .results.report import write_report

    results = combine_results(args.results, other_corpora=args.other_corpora)
    written = write_report(args.out, results)
    print((Path(args.out) / "results.md").read_text())
    print(f"report: {', '.join(str(p) for p in written)}")
    return 0


def add_verify(sub):
    """Add ``verify`` to ``sub``."""
    p = sub.add_parser("verify", help="check a corpus or an embeddings cache against its "
                       "checksums", description="Check a corpus folder (every data file "
                       "against manifest.json, the plan each carries, files nothing wrote, "
                       "an unfinished folder), an embeddings cache or cache root (every part "
                       "against its _SUCCESS.json), or a sarl bench output folder (both), "
                       "and list what is wrong. datasets.load_dataset checks none of this. "
                       "Exit status 0: intact; 1: problems found.")
    p.add_argument("path", help="corpus folder, embeddings cache or sarl bench --out folder")
    p.set_defaults(func=_run_verify)


def _run_verify(args) -> int:
    from .embeddings.verify import verify_folder

    kind, problems = verify_folder(args.path)
    for line in problems:
        print(f"  {line}")
    state = f"{len(problems)} problem(s)" if problems else "intact: every file matches its " \
        "record"
    print(f"sarl verify: {args.path} ({kind}): {state}")
    return 1 if problems else 0
