"""Upload a generated SARL corpus folder to the Hugging Face Hub as a dataset repo.

    python dataset_scripts/publish.py --folder sarl --repo-id ORG/sarl --dry-run
    HF_TOKEN=... python dataset_scripts/publish.py --folder sarl --repo-id ORG/sarl

The folder is verified against its ``manifest.json`` first (every data file's sha256);
only the card, the manifest and ``data/`` are sent, never ``.sarl/``.
"""

from __future__ import annotations

import argparse
import sys

from sarl_hf.corpus.upload import publish


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", required=True, help="corpus folder from sarl generate")
    parser.add_argument("--repo-id", required=True, help="dataset repo, e.g. ORG/sarl")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--dry-run", action="store_true",
                        help="verify and list what would be uploaded; upload nothing")
    args = parser.parse_args(argv)
    try:
        files = publish(args.folder, args.repo_id, private=args.private, dry_run=args.dry_run)
    except ValueError as err:
        print(f"publish: error: {err}", file=sys.stderr)
        return 2
    for path, size in files:
        print(f"{size:>14,d}  {path}")
    total = sum(size for _, size in files)
    verb = "would upload" if args.dry_run else "uploaded"
    print(f"{verb} {len(files)} files, {total / 1e6:.1f} MB, to datasets/{args.repo_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
