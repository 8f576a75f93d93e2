#!/usr/bin/env python3
"""FlexLVM benchmark: per-operation wall time and peak RSS of the driver, as kubelet runs it
(a new process per call, real argv and JSON), side by side with an exec-based baseline
(scripts/benchmark/baseline-driver) in the same run. Numbers are printed, never asserted.

  bench.py host  DRIVER HELLO         host-only rows: init and a Failure reply vs a static hello-world
  bench.py guest DRIVER HELLO BASELINE  everything else, as root in the real-kernel guest

Any failed call, row or section ends the run with a non-zero exit status (a traceback, or
"bench.py: ..." on stderr); the tables are only complete when it exits 0.
"""
import json, os, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

RUNS = int(os.environ.get("FLEXLVM_BENCH_RUNS", "20"))
# Which guest sections run: any of "hotpath", "operations", "scale", "concurrency", "snapshots" (default: all).
ALL_SECTIONS = ("hotpath", "operations", "scale", "concurrency", "snapshots")
SECTIONS = os.environ.get("FLEXLVM_BENCH_SECTIONS", ",".join(ALL_SECTIONS)).split(",")
# The scale section's LV counts in the VG, the concurrency section's volumes at once, and the
# snapshots section's runs per row (scripts/bench --quick makes all three small).
SCALE_COUNTS = [int(c) for c in os.environ.get("FLEXLVM_BENCH_SCALE_COUNTS", "1,100,500").split(",")]
CONCURRENCY = int(os.environ.get("FLEXLVM_BENCH_CONCURRENCY", "16"))
SNAPSHOT_RUNS = int(os.environ.get("FLEXLVM_BENCH_SNAPSHOT_RUNS", str(max(5, RUNS // 2))))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEASURE = os.environ.get("BENCH_MEASURE", os.path.join(REPO, ".build", "bench", "measure"))


def call(argv, env=None):
    """Runs argv through the measure launcher; returns (seconds, peak RSS in KiB of the call's
    process tree, its output, its exit status). The launcher times fork to wait4 itself."""
    program = argv[0] if argv[0].startswith("/") else subprocess.check_output(["which", argv[0]], text=True).strip()
    p = subprocess.run([MEASURE, program] + list(argv[1:]), capture_output=True, stdin=subprocess.DEVNULL, env=env)
    ns, rss, status = p.stderr.decode().split()[-3:]
    return int(ns) / 1e9, int(rss), p.stdout.decode(errors="replace"), int(status)


def expect(sample, status, what):
    """sample, when its reply is the JSON status wanted (None: no reply, exit status 0); else raises."""
    if status is None:
        ok = sample[3] == 0
    else:
        try:
            reply = json.loads(sample[2])
        except ValueError:
            reply = {}
        ok = reply.get("status") == status and (sample[3] == 0) == (status == "Success")
    if not ok:
        raise RuntimeError(f"{what}: exit status {sample[3]}, output {sample[2].strip()!r}")
    return sample


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stats(samples):
    times = sorted(s[0] * 1000 for s in samples)
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, max(s[1] for s in samples)


def row(name, driver, baseline):
    d, b = stats(driver), stats(baseline) if baseline else None
    cells = [name, f"{d[0]:.1f}", f"{d[1]:.1f}", f"{d[2] / 1024:.1f}"]
    if b:
        cells += [f"{b[0]:.1f}", f"{b[1]:.1f}", f"{b[2] / 1024:.1f}", f"{d[0] / b[0]:.2f}"]
    print("| " + " | ".join(cells) + " |", flush=True)


def header(title, baseline_name="baseline"):
    print(f"\n### {title}\n")
    print(f"| operation | driver median ms | driver p95 ms | driver peak RSS MiB | {baseline_name} median ms "
          f"| {baseline_name} p95 ms | {baseline_name} peak RSS MiB | ratio (median) |")
    print("|---|---|---|---|---|---|---|---|", flush=True)


def host(driver, hello):
    env = dict(os.environ, FLEXLVM_NODE_NAME="bench", FLEXLVM_LOG="/tmp/flexlvm-bench.log", FLEXLVM_CONFIG="/dev/null")
    header("Host (no VM): process start", "static hello-world")
    init = lambda: expect(call([driver, "init"], env), "Success", "driver init")
    hi = lambda: expect(call([hello]), None, "hello-world")
    bad = lambda: expect(call([driver, "attach", "{bad", "n"], env), "Failure", "driver attach with bad JSON")
    for _ in range(3):
        init(), hi()
    hello_samples = [hi() for _ in range(RUNS * 5)]
    row("init", [init() for _ in range(RUNS * 5)], hello_samples)
    row("Failure reply (bad JSON)", [bad() for _ in range(RUNS * 5)], hello_samples)


class Side:
    """One implementation (the driver or the baseline) with its own dirs and LVs."""

    def __init__(self, name, argv, vg, work):
        self.name, self.argv, self.vg = name, argv, vg
        self.root = os.path.join(work, name)
        self.kubelet = os.path.join(self.root, "kubelet")
        # kubelet's root exists on every node, before any driver call; the driver never creates it
        # (it derives the root from each path and refuses one that is not a directory).
        os.makedirs(self.kubelet, exist_ok=True)
        self.env = dict(os.environ, FLEXLVM_NODE_NAME="bench-node", FLEXLVM_LOG=f"{self.root}/flexlvm.log",
                        FLEXLVM_STATE_DIR=f"{self.root}/state", FLEXLVM_LOCK_DIR=f"{self.root}/lock",
                        FLEXLVM_KUBELET_ROOT=self.kubelet, FLEXLVM_STAGING_DIR=f"{self.root}/staging",
                        FLEXLVM_CONFIG="/dev/null", BASELINE_STATE=f"{self.root}/state")

    def options(self, lv, vg=None):
        return json.dumps({"kubernetes.io/fsType": "ext4", "kubernetes.io/pvOrVolumeName": f"pv-{lv}",
                           "kubernetes.io/readwrite": "rw", "volumeID": lv, "volumegroup": vg or self.vg},
                          sort_keys=True)

    def device(self, lv, vg=None):
        return f"/dev/mapper/{(vg or self.vg).replace('-', '--')}-{lv.replace('-', '--')}"

    def global_dir(self, lv):
        return f"{self.kubelet}/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv-{lv}"

    def pod_dir(self, lv, pod="p"):
        return f"{self.kubelet}/pods/{pod}/volumes/flexlvm~lvm/pv-{lv}"

    def run(self, *args):
        sample = call(self.argv + list(args), self.env)
        if '"status":"Success"' not in sample[2] or sample[3] != 0:
            raise RuntimeError(f"{self.name} {args[0]} failed: {sample[2].strip()}")
        return sample


def deactivate(vg, lv):
    subprocess.run(["lvchange", "-q", "-an", f"{vg}/{lv}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def blank_lv(vg, lv, size):
    """A new, inactive LV that is blank, as a fresh volume is: an LV created inactive is not
    zeroed and may sit on extents an earlier section freed (a deleted COW snapshot's header, say),
    which the driver rightly refuses to format over. So: created active, zeroed and signatures
    wiped, then deactivated."""
    sh("lvcreate", "-q", "-y", "-n", lv, "-L", size, "-a", "y", "-Z", "y", "-W", "y", vg)
    sh("lvchange", "-q", "-a", "n", f"{vg}/{lv}")


def unmount(path):
    subprocess.run(["umount", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(side, lv, setup, action, runs=RUNS, teardown=None):
    samples = []
    for _ in range(runs):
        setup()
        samples.append(action())
        if teardown:
            teardown()
    return samples


def operations(sides, vg):
    """The main table: one row per FlexVolume operation."""
    results = {}
    for s in sides:
        lv = f"op-{s.name}"
        blank_lv(vg, lv, "64M")
        o, dev, g, pod = s.options(lv), s.device(lv), s.global_dir(lv), s.pod_dir(lv)
        r = results[s.name] = {}
        nothing = lambda: None
        r["init"] = measure(s, lv, nothing, lambda: s.run("init"))
        r["attach (activates)"] = measure(s, lv, lambda: deactivate(vg, lv), lambda: s.run("attach", o, "bench-node"))
        r["waitforattach, inactive LV"] = measure(s, lv, lambda: deactivate(vg, lv), lambda: s.run("waitforattach", dev, o))
        r["waitforattach, active LV"] = measure(s, lv, nothing, lambda: s.run("waitforattach", dev, o))
        r["isattached"] = measure(s, lv, nothing, lambda: s.run("isattached", o, "bench-node"))
        wipe = lambda: (unmount(g), sh("wipefs", "-q", "-a", dev))
        r["mountdevice incl. mkfs"] = measure(s, lv, wipe, lambda: s.run("mountdevice", g, dev, o), runs=RUNS)
        r["mountdevice, formatted"] = measure(s, lv, lambda: unmount(g), lambda: s.run("mountdevice", g, dev, o))
        r["mount"] = measure(s, lv, nothing, lambda: s.run("mount", pod, o), teardown=lambda: (unmount(pod), os.rmdir(pod)))
        bind = lambda: (os.makedirs(pod, exist_ok=True), sh("mount", "--bind", g, pod))
        r["unmount"] = measure(s, lv, bind, lambda: s.run("unmount", pod))
        mounted = lambda: (s.run("waitforattach", dev, o), s.run("mountdevice", g, dev, o))
        r["unmountdevice (releases)"] = measure(s, lv, mounted, lambda: s.run("unmountdevice", g))
        r["detach (releases)"] = measure(s, lv, lambda: s.run("attach", o, "bench-node"),
                                         lambda: s.run("detach", f"pv-{lv}", "bench-node"))
        steps = [("attach", o, "bench-node"), ("waitforattach", dev, o), ("mountdevice", g, dev, o), ("mount", pod, o),
                 ("unmount", pod), ("unmountdevice", g), ("detach", f"pv-{lv}", "bench-node")]

        def full_order():
            samples = [s.run(*step) for step in steps]
            return sum(x[0] for x in samples), max(x[1] for x in samples), "", 0
        r["full kubelet order, formatted LV (7 calls)"] = measure(s, lv, nothing, full_order)
    return results


def scale(sides, vg, counts):
    """Activation and isattached of one LV in a VG of its own that holds `counts` LVs in turn
    (the other benchmark VGs present): how cost grows with the VG's metadata."""
    rows = []
    lv = "scaled"
    sh("lvcreate", "-q", "-y", "-n", lv, "-L", "4M", "-a", "n", vg)
    present = 1
    for count in counts:
        if count > present:
            # One lvm process for all of them (its shell, reading commands from stdin).
            script = "".join(f"lvcreate -q -y -n fill{i} -L 4M -a n {vg}\n" for i in range(present, count))
            subprocess.run(["lvm"], input=script, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        present = int(subprocess.check_output(["vgs", "--noheadings", "-o", "lv_count", vg], text=True))
        if present != count:
            raise RuntimeError(f"{vg} holds {present} LVs, expected {count}")
        for label, inactive in (("waitforattach, inactive LV", True), ("isattached", False)):
            per_side = []
            for s in sides:
                dev, o = s.device(lv, vg), s.options(lv, vg)
                if inactive:
                    per_side.append(measure(s, lv, lambda: deactivate(vg, lv), lambda: s.run("waitforattach", dev, o)))
                else:
                    s.run("waitforattach", dev, o)
                    per_side.append(measure(s, lv, lambda: None, lambda: s.run("isattached", o, "bench-node")))
            rows.append((f"{label}, {present} LV{'s' if present > 1 else ''} in the VG", per_side))
        deactivate(vg, lv)
    return rows


def concurrency(side, vg, n):
    """n volumes through the full kubelet order at once."""
    lvs = [f"c{i}-{side.name}" for i in range(n)]
    for lv in lvs:
        blank_lv(vg, lv, "32M")
    per_op, errors = {}, []

    def order(lv):
        o, dev, g, pod = side.options(lv), side.device(lv), side.global_dir(lv), side.pod_dir(lv)
        steps = [("attach", o, "bench-node"), ("waitforattach", dev, o), ("mountdevice", g, dev, o), ("mount", pod, o),
                 ("unmount", pod), ("unmountdevice", g), ("detach", f"pv-{lv}", "bench-node")]
        for step in steps:
            try:
                per_op.setdefault(step[0], []).append(side.run(*step))
            except Exception as error:  # counted, and reported below
                errors.append(str(error))
                return

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(order, lvs))
    wall = time.perf_counter() - start
    leaked_mounts = [l for l in open("/proc/self/mountinfo") if side.root in l]
    leaked_dm = [lv for lv in lvs if os.path.exists(side.device(lv))]
    p95 = {op: stats(samples)[1] for op, samples in per_op.items()}
    return wall, p95, errors, leaked_mounts, leaked_dm


class Writer:
    """A thread appending 4 KiB records to a file, fsync'ing every 8, timing each write+fsync
    step: the longest step seen while a snapshot is taken is the freeze a writer feels."""

    def __init__(self, path):
        import threading
        self.path, self.stop, self.longest, self.count = path, threading.Event(), 0.0, 0
        self.thread = threading.Thread(target=self.loop)

    def loop(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        record = b"r" * 4096
        while not self.stop.is_set():
            start = time.perf_counter()
            os.write(fd, record)
            self.count += 1
            if self.count % 8 == 0:
                os.fsync(fd)
            self.longest = max(self.longest, time.perf_counter() - start)
        os.close(fd)

    def __enter__(self):
        self.thread.start()
        time.sleep(0.5)
        self.longest = 0.0
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()


def snapshots(side, vg, runs):
    """flexlvm snapshot create on a mounted volume, thick (COW) and thin, with the origin idle
    and under a writer; the longest write+fsync step seen during each create is the freeze."""
    sh("lvcreate", "-q", "-y", "-T", "-L", "1G", f"{vg}/snappool")
    kinds = (("thick (COW snapshot)", ["-L", "256M", vg]), ("thin (thin snapshot)", ["-V", "256M", "-T", f"{vg}/snappool"]))
    print("\n### Snapshots: `flexlvm snapshot create` on a mounted ext4 volume (guest, real LVM)\n")
    print(f"Runs per row: {runs}. Writer: 4 KiB appends, fsync every 8; its longest write+fsync step during a create "
          "is the freeze a writer sees (its longest step with no snapshot taken is given for comparison).\n")
    print("| origin | create, idle: median ms | p95 ms | create, under writes: median ms | p95 ms "
          "| longest freeze seen ms | longest step without snapshots ms |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for label, args in kinds:
        lv = "snaporig" + ("thin" if "-T" in args else "thick")
        sh("lvcreate", "-q", "-y", "-n", lv, *args)
        o, dev, g = side.options(lv), side.device(lv), side.global_dir(lv)
        side.run("waitforattach", dev, o)
        side.run("mountdevice", g, dev, o)
        create = [side.argv[0], "snapshot", "create", "--vg", vg, "--lv", lv, "--name", "benchsnap"]
        delete = [side.argv[0], "snapshot", "delete", "--vg", vg, "--name", "benchsnap"]

        def one():
            sample = call(create, side.env)
            if sample[3] != 0:
                raise RuntimeError(f"snapshot create failed: {sample[2]}")
            deleted = call(delete, side.env)
            if deleted[3] != 0:
                raise RuntimeError(f"snapshot delete failed: {deleted[2]}")
            return sample

        idle = [one() for _ in range(runs)]
        busy, freezes = [], []
        with Writer(os.path.join(g, "records")) as writer:
            time.sleep(1)
            quiet = writer.longest
            for _ in range(runs):
                writer.longest = 0.0
                busy.append(one())
                freezes.append(writer.longest)
        i, b = stats(idle), stats(busy)
        print(f"| {label} | {i[0]:.1f} | {i[1]:.1f} | {b[0]:.1f} | {b[1]:.1f} | {max(freezes) * 1000:.1f} "
              f"| {quiet * 1000:.1f} |", flush=True)
        side.run("unmountdevice", g)


def guest(driver, hello, baseline):
    unknown = [s for s in SECTIONS if s not in ALL_SECTIONS]
    if unknown:
        raise SystemExit(f"bench.py: unknown section(s) {', '.join(unknown)} in FLEXLVM_BENCH_SECTIONS "
                         f"(known: {', '.join(ALL_SECTIONS)})")
    vg, other, scaled = "bench_vg", "bench_other", "bench_scale"
    work = tempfile.mkdtemp(prefix="flexlvm-bench-")
    loops = []
    for name, size in ((vg, "8G"), (other, "256M"), (scaled, "3G")):
        image = os.path.join(work, f"{name}.img")
        sh("truncate", "-s", size, image)
        loop = subprocess.check_output(["losetup", "--find", "--show", image], text=True).strip()
        loops.append(loop)
        sh("pvcreate", "-q", "--metadatasize", "8m", loop)
        sh("vgcreate", "-q", name, loop)
    sh("lvcreate", "-q", "-y", "-n", "neighbour", "-L", "8M", "-a", "n", other)
    sides = [Side("driver", [driver], vg, work), Side("baseline", [baseline], vg, work)]
    try:
        print(f"\nRuns per row: {RUNS}. Times are wall time per call (process start included), "
              "peak RSS of the call's process tree.")
        hello_samples = [expect(call([hello]), None, "hello-world") for _ in range(RUNS)]
        med, p95, rss = stats(hello_samples)
        print(f"\nStatic hello-world in this guest: median {med:.1f} ms, p95 {p95:.1f} ms, peak RSS {rss / 1024:.1f} MiB; "
              f"/bin/true: median {stats([expect(call(['/bin/true']), None, '/bin/true') for _ in range(RUNS)])[0]:.1f} ms")
        if "hotpath" in SECTIONS:
            header("Hot path against process start (guest)", "static hello-world")
        for s in sides[:1] if "hotpath" in SECTIONS else []:
            lv = "hot"
            sh("lvcreate", "-q", "-y", "-n", lv, "-L", "8M", "-a", "y", vg)
            row("init", [s.run("init") for _ in range(RUNS)], hello_samples)
            row("isattached, active LV", [s.run("isattached", s.options(lv), "bench-node") for _ in range(RUNS)],
                hello_samples)
            row("waitforattach, active LV", [s.run("waitforattach", s.device(lv), s.options(lv)) for _ in range(RUNS)],
                hello_samples)
        if "operations" in SECTIONS:
            results = operations(sides, vg)
            header("Per operation (guest, real LVM)")
            for name in results["driver"]:
                row(name, results["driver"][name], results["baseline"][name])
        if "scale" in SECTIONS:
            header("Scale: LVs in the volume's VG (two other VGs present)")
            for label, (d, b) in scale(sides, scaled, SCALE_COUNTS):
                row(label, d, b)
        if "snapshots" in SECTIONS:
            snapshots(sides[0], vg, SNAPSHOT_RUNS)
        if "concurrency" not in SECTIONS:
            return
        print(f"\n### Concurrency: {CONCURRENCY} volumes through the full kubelet order at once\n")
        print("| implementation | total wall s | p95 per op ms | errors | leaked mounts | leaked DM devices |")
        print("|---|---|---|---|---|---|")
        failed = []
        for s in sides:
            wall, p95, errors, mounts, dms = concurrency(s, vg, CONCURRENCY)
            ops = ", ".join(f"{op} {ms:.0f}" for op, ms in p95.items())
            print(f"| {s.name} | {wall:.1f} | {ops} | {len(errors)} | {len(mounts)} | {len(dms)} |", flush=True)
            for error in errors[:3]:
                print(f"  error: {error}")
            if errors or mounts or dms:
                failed.append(f"{s.name}: {len(errors)} errors, {len(mounts)} leaked mounts, {len(dms)} leaked DM devices")
        if failed:
            raise SystemExit("bench.py: concurrency section failed: " + "; ".join(failed))
    finally:
        for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
            point = line.split()[4]
            if point.startswith(work):
                unmount(point)
        for name in (vg, other, scaled):
            subprocess.run(["vgremove", "-q", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for loop in loops:
            subprocess.run(["losetup", "-d", loop])
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "host":
        host(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "guest":
        guest(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
