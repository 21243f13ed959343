#!/usr/bin/env python3
"""bench/analyze.py: the benchmarks' arithmetic, so that the shell scripts
only drive servers.

  analyze.py trial KILL_NS OLD_PORT WRITES LOG:OFFSET...
      One failover trial: reads the writer's log (WRITES) and the survivors'
      server logs from their byte offsets at the kill, prints one TSV row:
      leader_ms write_ms detect_ms election_ms promote_wait_ms promotion_ms
      reconnect_ms new_port (empty fields where a log line is missing).
  analyze.py switch START_NS TARGET_PORT WRITES LOG:OFFSET...
      One switchover trial: prints leader_ms promoted_ms write_ms
      promote_wait_ms (leader -> "promoting this standby").
  analyze.py summary TSV COLUMN...
      min, median, p90, p99, max and count of each column of a TSV file with
      a header line; prints a Markdown table.
  analyze.py cdf TSV COLUMN OUT
      Writes "value fraction" lines (sorted) for gnuplot.
"""
import datetime
import re
import sys

LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC ")


def log_ms(line):
    """Wall-clock milliseconds of a server log line (log_line_prefix %m, UTC)."""
    m = LOG_TS.match(line)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0


def read_logs(specs):
    """Lines of each LOG:OFFSET spec from its offset on, as (ms, text)."""
    out = []
    for spec in specs:
        path, offset = spec.rsplit(":", 1)
        with open(path, "rb") as f:
            f.seek(int(offset))
            for raw in f:
                line = raw.decode("utf-8", "replace")
                ms = log_ms(line)
                if ms is not None:
                    out.append((ms, line.rstrip("\n")))
    out.sort(key=lambda x: x[0])
    return out


def first(lines, pattern, after):
    """Time of the first line matching pattern at or after `after` ms."""
    rx = re.compile(pattern)
    for ms, text in lines:
        if ms >= after - 1 and rx.search(text):
            return ms, text
    return None, None


def first_write(path, start_ms, exclude_port=None, port=None):
    """Time and port of the first acknowledged write after start_ms."""
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or parts[1] == "-":
                continue
            ms = int(parts[0]) / 1000.0
            if ms <= start_ms:
                continue
            if exclude_port is not None and parts[1] == exclude_port:
                continue
            if port is not None and parts[1] != port:
                continue
            return ms, parts[1]
    return None, None


def fmt(x):
    return "" if x is None else "%.0f" % x


def diff(a, b):
    return None if a is None or b is None else a - b


def event_args(args, exclude_port):
    """The arguments of trial and switch: the event's time (ns), a port, the
    writer's log, the server logs.  Returns the event's time in ms, the first
    write acknowledged after it (time and port: on another port than the one
    given with exclude_port, else on that port) and the logs' lines."""
    start_ms = int(args[0]) / 1e6
    if exclude_port:
        write_ms, write_port = first_write(args[2], start_ms, exclude_port=args[1])
    else:
        write_ms, write_port = first_write(args[2], start_ms, port=args[1])
    return start_ms, write_ms, write_port, read_logs(args[3:])


def trial(args):
    kill_ms, write_ms, new_port, lines = event_args(args, exclude_port=True)
    detect, _ = first(lines, r"node \d+ is now (precandidate|candidate) in term", kill_ms)
    leader, text = first(lines, r"node \d+ is now leader in term", kill_ms)
    promoting = promoted = None
    if leader is not None:
        node = re.search(r"node (\d+) is now leader", text).group(1)
        promoting, _ = first(lines, r"node %s is the Raft leader in term .* promoting" % node, leader)
        if promoting is not None:
            promoted, _ = first(lines, r"database system is ready to accept connections", promoting)
    row = [diff(leader, kill_ms), diff(write_ms, kill_ms), diff(detect, kill_ms),
           diff(leader, detect), diff(promoting, leader), diff(promoted, promoting),
           diff(write_ms, promoted)]
    print("\t".join(fmt(x) for x in row) + "\t" + (new_port or ""))


def switch(args):
    start_ms, write_ms, _, lines = event_args(args, exclude_port=False)
    leader, _ = first(lines, r"node \d+ is now leader in term", start_ms)
    promoting, _ = first(lines, r"node \d+ is the Raft leader in term .* promoting", start_ms)
    promoted, _ = first(lines, r"database system is ready to accept connections", start_ms)
    row = [diff(leader, start_ms), diff(promoted, start_ms), diff(write_ms, start_ms),
           diff(promoting, leader)]
    print("\t".join(fmt(x) for x in row))


def read_tsv(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return header, rows


def column(path, name):
    header, rows = read_tsv(path)
    i = header.index(name)
    return sorted(float(r[i]) for r in rows
                  if i < len(r) and r[i].replace(".", "", 1).isdigit())


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    k = max(0, min(len(values) - 1, int(-(-p * len(values) // 100)) - 1))
    return values[k]


def summary(args):
    path = args[0]
    print("| measure (ms) | n | min | p50 | p90 | p99 | max |")
    print("|---|---|---|---|---|---|---|")
    for name in args[1:]:
        v = column(path, name)
        if not v:
            print("| %s | 0 | | | | | |" % name)
            continue
        print("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
            name, len(v), v[0], pct(v, 50), pct(v, 90), pct(v, 99), v[-1]))


def cdf(args):
    v = column(args[0], args[1])
    with open(args[2], "w") as f:
        for i, x in enumerate(v):
            f.write("%.1f %.4f\n" % (x, (i + 1) / len(v)))


if __name__ == "__main__":
    cmds = {"trial": trial, "switch": switch, "summary": summary, "cdf": cdf}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])
