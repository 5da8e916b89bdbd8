"""Prints the rows the benchmarks added to the results file as one table."""
import sys

HEADER = ("benchmark", "with pg_mpa", "without pg_mpa", "ratio", "target", "result")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(len(HEADER))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(HEADER))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    failed = [r[0] for r in rows if r[5] == "FAIL"]
    print(f"\n{len(rows)} figures; {len(failed)} targets missed" + (": " + "; ".join(failed) if failed else ""))


if __name__ == "__main__":
    main()
