#!/usr/bin/env python3
"""Legibility of a recording's text, read by OCR against the captured screen.

For each pair written by `recorder_replay --dump DIR` (src_T.ppm: the captured
frame, rec_T.ppm: the recording's frame at that time), tesseract reads both
(upscaled x2, as terminal text at 1080p is small for it) and the share of the
captured frame's words that the recording's frame also yields is reported.
A word tesseract misreads on the original counts against neither, so 1.0 is
"as legible as the screen itself". Several DIRs (e.g. one per QP) share the
captured frames' reads when their times match.

  bench/recorder/legibility.py DIR [DIR ...]
"""
import collections
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

WORD = re.compile(r"\S{2,}")


def read_words(ppm):
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "x2.png")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", ppm, "-vf",
                        "scale=iw*2:ih*2:flags=lanczos", png], check=True)
        out = subprocess.run(["tesseract", png, "stdout", "--psm", "6"], check=True,
                             capture_output=True, text=True).stdout
    return collections.Counter(WORD.findall(out))


def main(dirs):
    if not dirs:
        sys.exit(__doc__)
    jobs = {}
    for d in dirs:
        for name in os.listdir(d):
            if name.startswith("rec_") and name.endswith(".ppm"):
                t = name[4:-4]
                jobs[(d, t)] = os.path.join(d, name)
                # The captured frame is the same in every DIR: read it once.
                jobs.setdefault(("src", t), os.path.join(d, "src_" + t + ".ppm"))
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        words = dict(zip(jobs, pool.map(read_words, jobs.values())))
    times = sorted({t for (_, t) in jobs}, key=int)
    print("t_s      src_words " + " ".join(f"{os.path.basename(d.rstrip('/')):>10}" for d in dirs))
    totals = {d: [0, 0] for d in dirs}
    for t in times:
        src = words[("src", t)]
        n = sum(src.values())
        row = []
        for d in dirs:
            got = sum((src & words.get((d, t), collections.Counter())).values())
            totals[d][0] += got
            totals[d][1] += n
            row.append(f"{got / n if n else 1:10.3f}")
        print(f"{int(t) / 1000:7.1f}  {n:9d} " + " ".join(row))
    print("all" + " " * 16 + " ".join(f"{g / n if n else 1:10.3f}" for g, n in totals.values()))


if __name__ == "__main__":
    main(sys.argv[1:])
