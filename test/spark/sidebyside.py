#!/usr/bin/env python3
"""shopstream `process` beside Spark Structured Streaming, in one run.

Both read the same topic from the same Kafka and write the same
`transactions` rows (table, keys and indexes made by `shopstream migrate up`)
into the same PostgreSQL, each in a schema of its own, one after the other
so that each has the machine to itself. Each keeps a key on the id:
shopstream's processor in transaction_ids (migration 0040), Spark's append
the key (transaction_id, event_time) of its table, which Spark's schema is
given back (the table has it no more since 0040):

  throughput  the topic is pre-loaded with --records transactions of a shop
              of --customers (`shopstream generate --rate 0`); each side
              consumes it from the start. Stored rows are counted every
              100 ms (per partition, the highest stored offset + 1);
              reported from the side's start (start-up included) and from
              its first stored row to its last.
  latency     each side, caught up on a topic of its own, is offered
              --latency-rate transactions/s for --latency-duration; latency
              is the row's stored_at (the database's now() in the writing
              transaction, the same on both sides) minus produced_at (the
              record's Kafka timestamp); the first 20% is warm-up.
  resources   peak resident memory of each side's process tree (sampled
              every 100 ms) and its CPU seconds (user + system); with the
              throwaway cluster, PostgreSQL's CPU per row stored from each
              side's first stored row to its last.

shopstream runs with its default flags and does its full processing
(quality checks, deduplication, fraud features, rules and isolation
forest, customer and window state, alerts, exactly-once offsets); Spark
parses the event, scores it with one rule and appends the row, at least
once (stream.py says exactly what it does).

Usage: sidebyside.py --bin bin/shopstream [--postgres URL] [--brokers H:P]
                     [--records N] [--customers N] [--json]
Without --postgres it starts a throwaway PostgreSQL (initdb and pg_ctl from
PATH or /usr/lib/postgresql/*/bin; as the postgres user when run as root)
with the settings `shopstream bench` uses: fsync on, shared_buffers 512MB,
max_wal_size 4GB.
Needs Java 17+, pyspark (requirements.txt) and the Spark Kafka connector
and PostgreSQL JDBC driver, which Spark fetches from Maven Central on its
first start (--packages).
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0,org.postgresql:postgresql:42.7.8"
# The connector 4.2.1 is not on Maven Central; 4.2.0 runs unchanged on Spark 4.2.1.
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_addr():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    addr = "127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    return addr


def with_param(url, key, value):
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(u.query)
    q = [(k, v) for k, v in q if k != key] + [(key, value)]
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))


def jdbc_url(url):
    u = urllib.parse.urlsplit(url)
    q = {"user": u.username or "postgres"}
    if u.password:
        q["password"] = u.password
    host = u.hostname or "127.0.0.1"
    return "jdbc:postgresql://%s:%d%s?%s" % (host, u.port or 5432, u.path or "/postgres", urllib.parse.urlencode(q))


def throwaway_postgres(workdir):
    """Starts a PostgreSQL cluster in workdir; returns its URL and a stop function."""
    import glob
    import shutil
    bindir = ""
    if not shutil.which("initdb"):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise SystemExit("no PostgreSQL server binaries (initdb): install postgresql or give --postgres")
        bindir = os.path.dirname(found[-1]) + "/"
    data = os.path.join(workdir, "pg")
    port = free_addr().split(":")[1]
    prefix = []
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("postgres")
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(prefix + [bindir + "initdb", "-D", data, "-A", "trust", "-U", "postgres"], check=True, stdout=subprocess.DEVNULL)
    opts = "-p %s -k %s -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c max_wal_size=4GB" % (port, workdir)
    subprocess.run(prefix + [bindir + "pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(workdir, "pg.log"), "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)

    def stop_pg():
        subprocess.run(prefix + [bindir + "pg_ctl", "-D", data, "-m", "fast", "stop"], stdout=subprocess.DEVNULL)
    with open(os.path.join(data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    return "postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable" % port, stop_pg, postmaster


def proc_stats():
    """Every process's pid and the fields of /proc/PID/stat after its name
    (fields[1] is the parent's pid, [11:15] utime, stime, cutime, cstime
    in clock ticks, [21] the resident pages)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        yield int(d), st[st.rindex(")") + 2:].split()


def server_cpu(postmaster):
    """CPU seconds of a PostgreSQL server: the postmaster with the children
    it reaped, and its children alive. The difference of two readings is the
    server's CPU between them, children that ended meanwhile included."""
    if postmaster is None:
        return None
    total = 0.0
    for pid, fields in proc_stats():
        if pid == postmaster:
            total += sum(int(x) for x in fields[11:15]) / CLK
        elif int(fields[1]) == postmaster:
            total += sum(int(x) for x in fields[11:13]) / CLK
    return total


class Tree:
    """A process and its descendants: CPU seconds and peak RSS."""

    def __init__(self, pid):
        self.pid, self.peak, self.cpu = pid, 0, {}

    def sample(self):
        stats = dict(proc_stats())
        kids = {}
        for pid, fields in stats.items():
            kids.setdefault(int(fields[1]), []).append(pid)
        rss, todo = 0, [self.pid]
        while todo:
            p = todo.pop()
            todo.extend(kids.get(p, []))
            if p in stats:
                fields = stats[p]
                # utime, stime (+ children's, reaped) and rss.
                self.cpu[p] = sum(int(x) for x in fields[11:15]) / CLK
                rss += int(fields[21]) * PAGE
        self.peak = max(self.peak, rss)

    def cpu_seconds(self):
        return sum(self.cpu.values())


def stored(conn, schema, parts):
    rows = conn.execute(
        "SELECT p, (SELECT max(kafka_offset) FROM %s.transactions WHERE kafka_partition = p) FROM unnest(%%s::int[]) p" % schema,
        (list(range(parts)),)).fetchall()
    return sum(m + 1 for _, m in rows if m is not None)


def start(cmd, env=None, log=None):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE if log is None else log, stderr=log or subprocess.DEVNULL,
                            env=env, start_new_session=True, text=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Side:
    def __init__(self, name, args, brokers, schema, url, workdir, postmaster=None):
        self.name, self.args, self.brokers, self.schema, self.url, self.workdir = name, args, brokers, schema, url, workdir
        self.postmaster = postmaster

    def launch(self, topic, tag):
        logf = open(os.path.join(self.workdir, "%s-%s.log" % (self.name, tag)), "w")
        if self.name == "shopstream":
            addr = free_addr()
            cmd = [self.args.bin, "process", "--brokers", self.brokers, "--topic", topic, "--group", "side-" + tag,
                   "--postgres", with_param(self.url, "search_path", self.schema), "--addr", addr, "--log-level", "warn"]
            p = start(cmd, log=logf)
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    if urllib.request.urlopen("http://%s/healthz" % addr, timeout=1).status == 200:
                        return p
                except OSError:
                    time.sleep(0.1)
            raise SystemExit("shopstream process did not become healthy: see %s" % logf.name)
        env = dict(os.environ, PYSPARK_SUBMIT_ARGS="--packages %s pyspark-shell" % PACKAGES)
        cmd = [sys.executable, os.path.join(HERE, "stream.py"), "--brokers", self.brokers, "--topic", topic,
               "--jdbc", jdbc_url(self.url), "--schema", self.schema,
               "--checkpoint", os.path.join(self.workdir, "spark-checkpoint-" + tag)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, env=env, start_new_session=True, text=True)
        for line in p.stdout:
            if line.strip() == "started":
                return p
        raise SystemExit("Spark's query did not start: see %s" % logf.name)


def reset(conn, args, url, schema, side=None):
    conn.execute("DROP SCHEMA IF EXISTS %s CASCADE" % schema)
    conn.execute("CREATE SCHEMA %s" % schema)
    subprocess.run([args.bin, "migrate", "up", "--postgres", with_param(url, "search_path", schema)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if side == "spark":
        # Spark's append keeps a key on the id as a JDBC sink can: the key
        # (transaction_id, event_time) the table had before shopstream's
        # migration 0040. shopstream's processor keeps its key on the id in
        # transaction_ids instead (and the table has none), which an append
        # of one table does not fill; without any key Spark's side would
        # store the rows with no check of their ids at all.
        conn.execute("ALTER TABLE %s.transactions ADD PRIMARY KEY (transaction_id, event_time)" % schema)


def produce(args, brokers, topic, extra):
    subprocess.run([args.bin, "generate", "--brokers", brokers, "--topic", topic, "--customers", str(args.customers)] + extra,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def throughput(side, conn, args, topic):
    reset(conn, args, side.url, side.schema, side.name)
    t0 = time.time()
    p = side.launch(topic, "tp")
    tree = Tree(p.pid)
    first = last = pg0 = pg1 = None
    n0 = 0
    deadline = t0 + 3600
    while time.time() < deadline:
        tree.sample()
        n = stored(conn, side.schema, args.partitions)
        now = time.time()
        if first is None and n > 0:
            first, n0, pg0 = now, n, server_cpu(side.postmaster)
        if n >= args.records:
            last, pg1 = now, server_cpu(side.postmaster)
            break
        if p.poll() is not None:
            raise SystemExit("%s exited early" % side.name)
        time.sleep(0.1)
    tree.sample()
    stop(p)
    if last is None:
        raise SystemExit("%s did not store %d records within an hour" % (side.name, args.records))
    return {
        "tps_with_startup": args.records / (last - t0),
        "tps": (args.records - n0) / (last - first) if last > first else float("nan"),
        "startup_s": first - t0,
        "cpu_s": tree.cpu_seconds(),
        "peak_rss_mib": tree.peak / 2**20,
        # PostgreSQL's CPU per row stored between the first and the last
        # (a throwaway cluster only: its server's processes are known).
        "pg_cpu_us_per_tx": (pg1 - pg0) / (args.records - n0) * 1e6 if pg0 is not None and args.records > n0 else None,
    }


def latency(side, conn, args, topic):
    reset(conn, args, side.url, side.schema, side.name)
    # A few records first, so the side is running and warm (Spark's first
    # micro-batch compiles its plan) before the offered load starts.
    warmup = 100
    produce(args, side.brokers, topic, ["--rate", "0", "--count", str(warmup), "--seed", "3"])
    p = side.launch(topic, "lat")
    tree = Tree(p.pid)
    deadline = time.time() + 600
    while stored(conn, side.schema, args.partitions) < warmup:
        if time.time() > deadline or p.poll() is not None:
            raise SystemExit("%s did not store the latency run's warm-up records" % side.name)
        tree.sample()
        time.sleep(0.1)
    offered = args.latency_rate * args.latency_duration
    t0 = time.time()
    gen = subprocess.Popen([args.bin, "generate", "--brokers", side.brokers, "--topic", topic, "--customers", str(args.customers),
                            "--rate", str(args.latency_rate), "--count", str(offered), "--seed", "2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while gen.poll() is None:
        tree.sample()
        time.sleep(0.1)
    offered_s = time.time() - t0
    # Wait for the side to store what was offered.
    deadline = time.time() + 600
    while (n := stored(conn, side.schema, args.partitions)) < warmup + offered:
        if time.time() > deadline or p.poll() is not None:
            raise SystemExit("%s stored %d of the latency run's %d records" % (side.name, n - warmup, offered))
        tree.sample()
        time.sleep(0.1)
    stop(p)
    warm = t0 + args.latency_duration / 5
    rows = conn.execute(
        "SELECT extract(epoch FROM stored_at - produced_at) * 1000 FROM %s.transactions WHERE produced_at >= to_timestamp(%%s) ORDER BY 1" % side.schema,
        (warm,)).fetchall()
    lat = [r[0] for r in rows]
    if not lat:
        raise SystemExit("%s stored nothing in the latency run" % side.name)

    def q(f):
        return float(lat[min(len(lat) - 1, int(f * len(lat)))])
    return {"p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99), "latency_stored": len(lat),
            "achieved_rate": offered / offered_s}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--postgres", default="", help="server to use (default: a throwaway cluster)")
    ap.add_argument("--brokers", default="")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--latency-rate", type=int, default=5000)
    ap.add_argument("--latency-duration", type=int, default=30, help="seconds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="sidebyside-")
    broker = None
    brokers = args.brokers
    if not brokers:
        brokers = free_addr()
        broker = start([args.bin, "broker", "--addr", brokers, "--partitions", str(args.partitions), "--log-level", "warn"],
                       log=open(os.path.join(workdir, "broker.log"), "w"))
        time.sleep(1)
    stop_pg = postmaster = None
    if not args.postgres:
        args.postgres, stop_pg, postmaster = throwaway_postgres(workdir)
    stamp = str(int(time.time()))
    topic = "side-" + stamp
    res = {"records": args.records, "customers": args.customers, "machine": machine(), "kafka": args.brokers or "shopstream broker process"}
    try:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            t = time.time()
            produce(args, brokers, topic, ["--rate", "0", "--count", str(args.records), "--seed", "1"])
            res["preload_s"] = time.time() - t
            sides = [Side("shopstream", args, brokers, "side_shopstream", args.postgres, workdir, postmaster),
                     Side("spark", args, brokers, "side_spark", args.postgres, workdir, postmaster)]
            for s in sides:
                r = throughput(s, conn, args, topic)
                r.update(latency(s, conn, args, "%s-lat-%s" % (topic, s.name)))
                r["cpu_us_per_tx"] = r["cpu_s"] / args.records * 1e6
                res[s.name] = r
                print("%s: %s" % (s.name, json.dumps(r)), file=sys.stderr, flush=True)
            for s in sides:
                conn.execute("DROP SCHEMA IF EXISTS %s CASCADE" % s.schema)
    finally:
        if broker is not None:
            stop(broker)
        if stop_pg is not None:
            stop_pg()
    a, b = res["shopstream"], res["spark"]
    res["spark_tps"], res["shopstream_tps"] = b["tps"], a["tps"]
    res["tps_ratio"] = a["tps"] / b["tps"]
    res["p99_ratio"] = b["p99_ms"] / a["p99_ms"]
    print("side by side: %d records, %d customers, %s, %s" % (args.records, args.customers, res["kafka"], res["machine"]))
    print("%-34s %14s %14s" % ("", "shopstream", "Spark"))
    for key, label, fmt in [("tps", "stored/s, first to last row", "%14.0f"), ("tps_with_startup", "stored/s, start-up included", "%14.0f"),
                            ("startup_s", "start to first stored row (s)", "%14.1f"),
                            ("p50_ms", "p50 latency (ms) at %d/s" % args.latency_rate, "%14.1f"), ("p95_ms", "p95 latency (ms)", "%14.1f"),
                            ("p99_ms", "p99 latency (ms)", "%14.1f"), ("peak_rss_mib", "peak RSS, process tree (MiB)", "%14.0f"),
                            ("cpu_s", "CPU seconds, throughput run", "%14.1f"), ("cpu_us_per_tx", "CPU per transaction (µs)", "%14.1f"),
                            ("pg_cpu_us_per_tx", "PostgreSQL CPU per row stored (µs)", "%14.1f")]:
        if a.get(key) is None or b.get(key) is None:
            continue
        print("%-34s %s %s" % (label, fmt % a[key], fmt % b[key]))
    print("shopstream / Spark steady rate: %.2f (target >= 2); Spark / shopstream p99: %.1f (target >= 10)" % (res["tps_ratio"], res["p99_ratio"]))
    if args.json:
        print(json.dumps(res))
    return 0


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
                    break
    except OSError:
        pass
    return "%s, %d cores" % (cpu, os.cpu_count())


if __name__ == "__main__":
    sys.exit(main())
