"""Where pg_mpa's share of a profile goes (a tool for docs/benchmarks.md).

  perf script -f -i FILE -F comm,ip,sym,dso | python3 bench/perf_attribution.py

Profiles come from BENCH_PERF_DIR=/some/dir bench/run NAME (an extra,
untimed run of the "with pg_mpa" side under perf, call graphs by DWARF).
A sample counts as pg_mpa's when, walking its stack from the leaf towards
main, a frame of pg_mpa.so comes before any of PostgreSQL's own entry
points that pg_mpa's hooks call back into (standard_ProcessUtility, ...):
that is time pg_mpa spends itself or in what it calls (strcmp, malloc,
catalog lookups). Prints pg_mpa's share, by hook entry point and by the
pg_mpa function nearest the leaf."""
import collections
import sys

# What pg_mpa's hooks call to let PostgreSQL do the statement's own work.
POSTGRES_WORK = {"standard_ProcessUtility", "standard_ExecutorStart", "standard_ExecutorRun",
                 "standard_ExecutorFinish", "standard_ExecutorEnd", "ExecInitNode", "ExecutorStart"}


def samples(lines):
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line.startswith(("\t", " ")):
            parts = line.strip().split(" ", 1)
            if len(parts) == 2:
                sym, _, dso = parts[1].rpartition(" (")
                frames.append((sym.replace(" (inlined)", ""), dso.rstrip(")")))
    if frames:
        yield frames


def main():
    total = 0
    ours = 0
    by_entry = collections.Counter()
    by_leaf = collections.Counter()
    for frames in samples(sys.stdin):
        total += 1
        first = None
        for i, (sym, dso) in enumerate(frames):
            if sym in POSTGRES_WORK:
                break
            if dso.endswith("pg_mpa.so"):
                first = i
                break
        if first is None:
            continue
        ours += 1
        by_leaf[frames[first][0]] += 1
        entry = frames[first][0]
        for sym, dso in frames[first:]:
            if sym in POSTGRES_WORK:
                break
            if dso.endswith("pg_mpa.so"):
                entry = sym
        by_entry[entry] += 1
    if total == 0:
        raise SystemExit("no samples")
    print(f"{total} samples; pg_mpa's own: {ours} ({100 * ours / total:.1f}%)"
          f" -> if PostgreSQL's work is the same, throughput ratio ~ {1 - ours / total:.3f}")
    print("\nby entry point (outermost pg_mpa frame; truncated stacks end early):")
    for sym, n in by_entry.most_common(12):
        print(f"  {100 * n / total:5.1f}%  {sym}")
    print("\nby pg_mpa function nearest the leaf:")
    for sym, n in by_leaf.most_common(20):
        print(f"  {100 * n / total:5.1f}%  {sym}")


if __name__ == "__main__":
    main()
