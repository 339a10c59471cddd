"""Upload a generated SARL corpus folder to the Hugging Face Hub as a dataset repo.

    python dataset_scripts/publish.py --folder sarl --repo-id ORG/sarl --dry-run

kept for old command lines: it is ``sarl publish dataset FOLDER --repo-id ORG/sarl
[--private] [--dry-run]`` (:func:`sarl_hf.publishing.publish_dataset`), which verifies the
folder against its ``manifest.json`` and sends only the card, the manifest and ``data/``.
"""

from __future__ import annotations

import argparse
import sys

from sarl_hf import cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", required=True, help="corpus folder from sarl generate")
    parser.add_argument("--repo-id", required=True, help="dataset repo, e.g. ORG/sarl")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--dry-run", action="store_true",
                        help="verify and list what would be uploaded; upload nothing")
    args = parser.parse_args(argv)
    flags = ["--private"] * args.private + ["--dry-run"] * args.dry_run
    return cli.main(["publish", "dataset", args.folder, "--repo-id", args.repo_id, *flags])


if __name__ == "__main__":
    sys.exit(main())
