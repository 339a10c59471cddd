"""``sarl publish``: the command line of :mod:`sarl_hf.publishing` (it parses, forwards and
prints what went, or with ``--dry-run`` would go, to the Hub)."""

from __future__ import annotations

from .publishing import EVALUATE_SPACE
from .publishing import SPACES


def _common(parser, what: str):
    parser.add_argument("--repo-id", default=None,
                        help=f"Hub {what} repository, owner/name (needed to upload)")
    parser.add_argument("--private", action="store_true",
                        help="create the repository private (default: public)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be uploaded; contact nothing")


def add_publish(sub):
    """Add ``publish`` and its kinds (dataset, space, evaluate, model) to ``sub``."""
    p = sub.add_parser("publish", help="upload the corpus, a Space, the evaluate module or a "
                       "model card to the Hub", description="Upload to the Hugging Face "
                       "Hub (token: `hf auth login` or HF_TOKEN). --dry-run lists every "
                       "file that would go and sends nothing. Hub failures are one line, "
                       "exit status 2.")
    kinds = p.add_subparsers(dest="kind", required=True)
    dataset = kinds.add_parser("dataset", help="a sarl generate folder as a dataset repo",
                               description="Verify a corpus folder against its manifest, "
                               "then upload its card, manifest and data/ (one commit per "
                               "config); .sarl/ stays here.")
    dataset.add_argument("folder", help="corpus folder written by sarl generate")
    _common(dataset, "dataset")
    space = kinds.add_parser("space", help="build a Space into OUT/NAME and upload it",
                             description="Assemble the Space as the Hub builds it (page, "
                             "card, pinned requirements.txt, packages.txt, bundled results, "
                             "sarl_hf copied in) into OUT/NAME, check it, and upload it.")
    space.add_argument("name", choices=sorted(SPACES), help="the Space")
    evaluate = kinds.add_parser("evaluate", help=f"the evaluate module (the {EVALUATE_SPACE} "
                                "Space)", description=f"Build and upload the {EVALUATE_SPACE} "
                                "evaluate module with its page; then evaluate.load(REPO_ID, "
                                "'azimuth') loads it.")
    for parser in (space, evaluate):
        parser.add_argument("--out", default="out/spaces",
                            help="where the built folder goes (default out/spaces)")
        _common(parser, "Space")
    model = kinds.add_parser("model", help="a model folder or a model card",
                             description="Upload a saved encoder folder (with its README.md "
                             "card) or a card alone (a README.md, e.g. "
                             "model_cards/sarl-spatial/README.md) to a model repo.")
    model.add_argument("path", help="model folder, or README.md")
    _common(model, "model")
    p.set_defaults(func=run_publish)


def run_publish(args) -> int:
    """Run ``sarl publish KIND``; print the files and where they went."""
    from . import publishing

    if args.repo_id is None and not args.dry_run:
        raise ValueError("an upload needs the repository: pass --repo-id owner/name (or "
                         "--dry-run to list the files)")
    options = dict(private=args.private, dry_run=args.dry_run)
    repo = args.repo_id or "owner/name"
    if args.kind == "dataset":
        files, where = publishing.publish_dataset(args.folder, repo, **options), "datasets"
    elif args.kind == "model":
        files, where = publishing.publish_model(args.path, repo, **options), "models"
    else:
        name = args.name if args.kind == "space" else EVALUATE_SPACE
        if args.repo_id is None:  # a dry run without an id: build with the card's own
            folder = publishing.build_space(name, args.out)
            files = publishing.folder_files(folder)
        else:
            folder, files = publishing.publish_space(name, repo, args.out, **options)
        print(f"built {folder}")
        where = "spaces"
    for path, size in files:
        print(f"{size:>14,d}  {path}")
    verb = "would upload" if args.dry_run else "uploaded"
    print(f"{verb} {len(files)} files, {sum(s for _, s in files) / 1e6:.1f} MB, to "
          f"{where}/{args.repo_id or '(no --repo-id given)'}")
    return 0
