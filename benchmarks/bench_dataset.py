"""The corpus as a dataset: generation speed, time to first example, memory at scale.

    .venv/bin/python benchmarks/bench_dataset.py [--scenes 200] [--generate-scenes 600]
        [--formats mono,foa]

Measures, in one run and on the same scenes (4 s at 16 kHz):
- generation, scenes/s: ``sarl generate`` with 1 and 2 processes, against what a user of
  ``datasets`` would otherwise write: ``Dataset.from_generator(...)`` over the same
  rendered rows, then ``to_parquet`` (one process, through the Arrow cache);
- time to the first example: ``sarl_hf.corpus.schema.stream`` (renders on the fly) and
  ``load_dataset(folder, streaming=True)``, against ``load_dataset(folder)`` without
  streaming (which prepares the whole config first);
- resident memory of a process that generates, and of one that streams, a corpus and
  one 10× larger (sampled every 5 ms after the imports): it should not grow with the
  corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RSS_SAMPLER = """
import json, sys, threading, time

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

class Peak(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = rss_mb(), False
    def run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)
"""
GENERATE_RSS = RSS_SAMPLER + """
from sarl_hf.corpus.generation import CorpusPlan, generate
from sarl_hf.sources import ProceduralBank
bank = ProceduralBank()
plan = CorpusPlan(scenes=int(sys.argv[2]), formats=sys.argv[3].split(","),
                  multisource_scenes=0, sensitivity_anchors=0, bank=bank.to_dict())
import datasets, pyarrow.parquet  # what the run imports, before the baseline
before = rss_mb()
peak = Peak(); peak.start()
generate(sys.argv[1], plan, bank, progress=False)
peak.stop = True; peak.join()
print(json.dumps([before, peak.peak]))
"""
STREAM_RSS = RSS_SAMPLER + """
from datasets import Audio
from sarl_hf.corpus.schema import stream
ds = stream(sys.argv[3].split(",")[-1], "train", int(sys.argv[2]))
ds = ds.cast_column("audio", Audio(decode=False))
rows = iter(ds)
next(rows)  # imports and caches loaded: the baseline
before = rss_mb()
peak = Peak(); peak.start()
count = sum(1 for _ in rows)
peak.stop = True; peak.join()
print(json.dumps([before, peak.peak]))
"""


def _python(code: str, *args) -> list:
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _plan(scenes, formats):
    from sarl_hf.corpus.plan import CorpusPlan
    from sarl_hf.sources import ProceduralBank

    bank = ProceduralBank()
    return CorpusPlan(scenes=scenes, formats=formats, multisource_scenes=0,
                      sensitivity_anchors=0, bank=bank.to_dict()), bank


def bench_generation(work: Path, scenes: int, formats, procs=(1, 2), baseline=True):
    import datasets

    from sarl_hf.corpus.generation import generate
    from sarl_hf.corpus.schema import corpus_features, scene_example
    from sarl_hf.corpus.shards import shard_jobs
    from sarl_hf.rendering.renderer import Renderer

    plan, bank = _plan(scenes, formats)
    rates = {}
    for num_proc in procs:
        report = generate(work / f"proc{num_proc}", plan, bank, num_proc=num_proc,
                          progress=False)
        rates[num_proc] = report.scenes_rendered / report.elapsed_s
    if not baseline:
        return rates, sum(len(v) for v in shard_jobs(plan, bank)[1].values())
    _, specs = shard_jobs(plan, bank)
    flat = [spec.to_dict() for key in specs for spec in specs[key]]

    def rows(spec_dicts):
        from sarl_hf.scene.spec import SceneSpec

        renderer = Renderer(bank=bank)
        for d in spec_dicts:
            yield scene_example(renderer.render(SceneSpec.from_dict(d)), bank.name)

    start = time.perf_counter()
    ds = datasets.Dataset.from_generator(rows, gen_kwargs={"spec_dicts": flat},
                                         features=corpus_features(None, bank.classes),
                                         cache_dir=str(work / "hf_cache"))
    ds.to_parquet(str(work / "baseline.parquet"))
    rates["baseline"] = len(flat) / (time.perf_counter() - start)
    return rates, len(flat)


def bench_first_example(folder: Path, config: str, n: int):
    import datasets

    from sarl_hf.corpus.streaming import stream

    times = {}
    start = time.perf_counter()
    next(iter(stream(config, "train", n)))
    times["stream() (renders)"] = time.perf_counter() - start
    start = time.perf_counter()
    next(iter(datasets.load_dataset(str(folder), config, split="train", streaming=True)))
    times["load_dataset(streaming=True)"] = time.perf_counter() - start
    start = time.perf_counter()
    datasets.load_dataset(str(folder), config, split="train",
                          cache_dir=str(folder.parent / "hf_cache_full"))[0]
    times["load_dataset() (baseline)"] = time.perf_counter() - start
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=200,
                        help="scenes of the small corpus of the memory and first-example runs")
    parser.add_argument("--generate-scenes", type=int, default=600,
                        help="scenes of the generation-speed runs")
    parser.add_argument("--formats", default="mono,foa")
    parser.add_argument("--procs", default="1,2", help="process counts of the generation runs")
    parser.add_argument("--parts", default="generate,baseline,first,memory",
                        help="which measurements to run")
    args = parser.parse_args(argv)
    formats = tuple(args.formats.split(","))
    work = Path(tempfile.mkdtemp(prefix="sarl_bench_"))
    try:
        procs = [int(p) for p in args.procs.split(",")]
        parts = args.parts.split(",")
        rates, rows = bench_generation(work, args.generate_scenes, formats, procs,
                                       "baseline" in parts)
        print(f"generation of {rows} rows ({args.generate_scenes} scenes × {len(formats)} "
              f"formats, 4 s at 16 kHz), {os.cpu_count()} CPUs:")
        for num_proc in procs:
            versus = (f"{rates[num_proc] / rates['baseline']:.2f}× the baseline, "
                      if "baseline" in rates else "")
            print(f"  sarl generate, {num_proc:2d} process(es) {rates[num_proc]:7.1f} scenes/s  "
                  f"({versus}{rates[num_proc] / rates[procs[0]]:.2f}× {procs[0]} process)")
        if "baseline" in rates:
            print(f"  Dataset.from_generator + to_parquet (baseline) {rates['baseline']:7.1f} "
                  "scenes/s")
        if "first" not in parts:
            return
        times = bench_first_example(work / f"proc{procs[0]}", formats[-1], args.scenes)
        base = times["load_dataset() (baseline)"]
        print(f"time to the first {formats[-1]} example:")
        for name, seconds in times.items():
            print(f"  {name:32s} {seconds:7.2f} s  (speed-up ×{base / seconds:.1f})")
        if "memory" not in parts:
            return
        print("resident memory (MB) before the work and its peak during it, for a corpus "
              "and one 10× larger:")
        for name, code in (("generate", GENERATE_RSS), ("stream", STREAM_RSS)):
            small = _python(code, work / f"rss_{name}_1", args.scenes, args.formats)
            large = _python(code, work / f"rss_{name}_10", 10 * args.scenes, args.formats)
            print(f"  {name:8s} {args.scenes:5d} scenes {small[0]:6.0f} → {small[1]:6.0f} MB"
                  f"   {10 * args.scenes:5d} scenes {large[0]:6.0f} → {large[1]:6.0f} MB"
                  f"   growth of the peak {large[1] / small[1]:.2f}×")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
