#!/usr/bin/env python3
"""bench/logical_failover.py: the arithmetic of bench/logical_failover.sh.

  logical_failover.py tail CHANGES OUT [commits]
      Follows CHANGES (what pg_recvlogical -f writes, test_decoding format)
      as it grows and appends "<unix time in us when read> <id>" to OUT for
      every INSERT into bench_writes, flushed at once.  pg_recvlogical
      write()s each message as it arrives and its lines carry no time of
      their own: this stamps them within the poll interval (2 ms).  With
      "commits" (test_decoding's include-timestamp on): "<time read>
      <commit time>" in us for every COMMIT instead.  Runs until killed.
  logical_failover.py latency STAMPED FROM_US TO_US OUT
      The commits of a "tail ... commits" output committed between FROM_US
      and TO_US: a TSV file OUT with one column, latency_ms, the time from
      each commit on the primary to its arrival at the consumer.
  logical_failover.py trial KILL_US OLD_PORT WRITES STAMPED PRIMARY_IDS FROM_US TO_US
      One failover trial; WRITES is bench/writer.c's log, STAMPED the tail's
      output, PRIMARY_IDS the ids of bench_writes between FROM_US and TO_US
      (the trial's writer ran in between: ids are its attempts' start times)
      on the primary after the trial.  Prints one TSV row:
      write_ms resume_ms change_ms new_port lost phantom duplicates
      acked_lost ("-" for a time that never came; bench/README.md, 9).
  logical_failover.py stats TSV UNIT COLUMN...
      n, min, p50, p90, max of each column (empty and "-" fields skipped),
      as rows of a Markdown table.
"""
import datetime
import os
import re
import sys
import time

# No __pycache__ in the checkout for the one import below.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze import pct, read_tsv  # noqa: E402  (the benchmarks' percentile)

INSERT = re.compile(rb"table public\.bench_writes: INSERT: id\[bigint\]:(\d+)")
# test_decoding's "COMMIT <xid> (at <timestamptz_to_str>)", ISO DateStyle
COMMIT = re.compile(rb"^COMMIT \d+ \(at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::?(\d\d))?\)")


def commit_us(m):
    """Unix microseconds of a COMMIT match."""
    local = datetime.datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S.%f"
                                       if b"." in m.group(1) else "%Y-%m-%d %H:%M:%S")
    sign = -1 if m.group(2).startswith(b"-") else 1
    offset = sign * datetime.timedelta(hours=abs(int(m.group(2))), minutes=int(m.group(3) or 0))
    utc = local.replace(tzinfo=datetime.timezone.utc) - offset
    return int(utc.timestamp()) * 1000000 + utc.microsecond


def tail(args):
    changes, out_path = args[0], args[1]
    commits = len(args) > 2 and args[2] == "commits"
    while not os.path.exists(changes):
        time.sleep(0.002)
    with open(changes, "rb") as f, open(out_path, "a") as out:
        pending = b""
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                time.sleep(0.002)
                continue
            now = time.time_ns() // 1000
            pending += chunk
            # A line may arrive in two reads: keep the unfinished end.
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                if commits:
                    m = COMMIT.match(line)
                    if m:
                        out.write("%d %d\n" % (now, commit_us(m)))
                    continue
                m = INSERT.search(line)
                if m:
                    out.write("%d %s\n" % (now, m.group(1).decode()))
            out.flush()


def read_pairs(path):
    """(time_us, second field, third field or None) of each line."""
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2:
                rows.append((int(p[0]), p[1], p[2] if len(p) > 2 else None))
    return rows


def ms_since(t_us, kill_us):
    return "-" if t_us is None else "%.0f" % ((t_us - kill_us) / 1000.0)


def trial(args):
    kill_us, old_port = int(args[0]), args[1]
    writes = read_pairs(args[2])
    stamped = [(t, int(i)) for t, i, _ in read_pairs(args[3])]
    with open(args[4]) as f:
        on_primary = {int(x) for x in f.read().split()}
    lo, hi = int(args[5]), int(args[6])

    acked = [(t, port, int(i)) for t, port, i in writes if port != "-" and i is not None]
    first_write = next(((t, port) for t, port, _ in acked if t > kill_us and port != old_port), None)
    new_port = first_write[1] if first_write else "-"
    from_new = {i for _, port, i in acked if port == new_port}

    # The consumer's first change from the new primary: one that primary
    # committed, or one received before (the new primary's copy of the
    # slot restarts from the last position the consumer confirmed).  The
    # old primary's WAL sender can still send a little after the kill,
    # never a change twice.
    resume, seen = None, set()
    for t, i in stamped:
        if t > kill_us and (i in seen or i in from_new):
            resume = t
            break
        seen.add(i)
    change = next((t for t, i in stamped if t > kill_us and i in from_new), None)

    received = [i for _, i in stamped if lo <= i <= hi]
    got = set(received)
    lost = len(on_primary - got)
    phantom = len(got - on_primary)
    duplicates = len(received) - len(got)
    acked_lost = sum(1 for _, _, i in acked if i not in on_primary)
    print("\t".join([ms_since(first_write[0] if first_write else None, kill_us),
                     ms_since(resume, kill_us), ms_since(change, kill_us), new_port,
                     str(lost), str(phantom), str(duplicates), str(acked_lost)]))


def latency(args):
    stamped, lo, hi, out_path = args[0], int(args[1]), int(args[2]), args[3]
    with open(out_path, "w") as out:
        out.write("latency_ms\n")
        for t, c, _ in read_pairs(stamped):
            c = int(c)
            if lo <= c <= hi:
                out.write("%.1f\n" % ((t - c) / 1000.0))


def stats(args):
    path, unit, names = args[0], args[1], args[2:]
    header, rows = read_tsv(path)
    for name in names:
        i = header.index(name)
        v = sorted(float(r[i]) for r in rows if i < len(r) and r[i] not in ("", "-"))
        if not v:
            print("| %s (%s) | 0 | | | | |" % (name, unit))
            continue
        print("| %s (%s) | %d | %.0f | %.0f | %.0f | %.0f |" % (
            name, unit, len(v), v[0], pct(v, 50), pct(v, 90), v[-1]))


if __name__ == "__main__":
    cmds = {"tail": tail, "trial": trial, "latency": latency, "stats": stats}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])
