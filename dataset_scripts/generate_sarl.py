"""Generate the published SARL corpus: the exact parameters of the Hub release.

    python dataset_scripts/generate_sarl.py --out sarl --num-proc 8
    # or spread over machines: each runs one slice, then gather and finish
    python dataset_scripts/generate_sarl.py --out sarl --num-shards 16 --shard-index $I
    python dataset_scripts/generate_sarl.py --out sarl --resume

Same parameters, same bytes: the published ``manifest.json`` lists the sha256 of every
data file, and a rerun with ``--resume`` checks and rebuilds against it.
"""

from __future__ import annotations

import argparse
import sys

from sarl_hf import cli

#: The published corpus (sarl_hf 0.1): 5000 scenes per format, 16 kHz, 4 s each.
PUBLISHED = ["--scenes", "5000", "--formats", "mono,stereo,binaural,foa,mic4", "--seed", "0",
             "--sample-rate", "16000", "--duration", "4.0", "--multisource-scenes", "1250",
             "--sensitivity-anchors", "50", "--scenes-per-shard", "500",
             "--shards-per-split", "8",
             "--sources", "procedural", "--mode", "fast"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-proc", default="1", help="parallel processes")
    parser.add_argument("--num-shards", default="1", help="slices (for several machines)")
    parser.add_argument("--shard-index", default="0", help="the slice this run renders")
    parser.add_argument("--resume", action="store_true", help="finish or verify a run")
    args = parser.parse_args(argv)
    extra = ["--resume"] if args.resume else []
    return cli.main(["generate", "--out", args.out, "--num-proc", args.num_proc,
                     "--num-shards", args.num_shards, "--shard-index", args.shard_index]
                    + PUBLISHED + extra)


if __name__ == "__main__":
    sys.exit(main())
