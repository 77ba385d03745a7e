#!/usr/bin/env python3
"""Benchmark harness for trestle (see BENCHMARKS.md).

    python3 bench/bench.py                     # N = 40, 100, 1000, 10000 and the peers
    python3 bench/bench.py --sizes 100,1000 --no-peers --runs 5

Builds the release binary and the generator (`cargo run --release --example gen -- N DIR`),
generates one spec tree per N, and times `validate`, a cold `build` (empty OUT), a warm
`build` (nothing changed) and `check` with `/usr/bin/time -v`: wall time, CPU time (user +
system), peak RSS, and the files and bytes written. Each figure is the median of --runs runs.

The peer comparison renders the same job with trestle, Kapitan (`kapitan compile`) and KCL
(`kcl-lib`'s Python API) for --peer-n services in one environment: a Deployment, a Service and
one Terraform database per service. The harness writes the peers' inputs itself and installs
the peers into bench/.venv on first use (pinned versions; PyPI only). It is not part of
`cargo test`.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "bench" / ".venv"
PEERS = {"kapitan": "0.36.3", "kcl-lib": "0.13.2"}
TARGETS_MS = {  # the speed targets of issue 7
    ("validate", 1000): 150,
    ("cold build", 1000): 400,
    ("check", 1000): 300,
    ("cold build", 10000): 4000,
    ("validate", 40): 30,
}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd, cwd=None):
    """Run `cmd` under /usr/bin/time -v: wall and CPU seconds, peak RSS in KiB, exit code, stderr."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(
            ["/usr/bin/time", "-v", "-o", t.name, *map(str, cmd)],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        v = t.read()
    field = lambda name: re.search(re.escape(name) + r": (.*)", v).group(1).strip()
    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(wall)))
    return {
        "wall": seconds,
        "cpu": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "rss_kb": int(field("Maximum resident set size (kbytes)")),
        "code": p.returncode,
        "stderr": p.stderr,
    }


def tree_size(d):
    files = size = 0
    for root, _, names in os.walk(d):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(root, n))
    return files, size


def median_of(runs, prepare, cmd, cwd=None, ok=(0,)):
    """`cmd` is a list, or a function returning one (called after `prepare`)."""
    results = []
    for _ in range(runs):
        prepare()
        c = cmd() if callable(cmd) else cmd
        r = timed(c, cwd)
        if r["code"] not in ok:
            sys.exit(f"{' '.join(map(str, c))} failed ({r['code']}):\n{r['stderr']}")
        results.append(r)
    results.sort(key=lambda r: r["wall"])
    m = results[len(results) // 2]
    m["cpu"] = statistics.median(r["cpu"] for r in results)
    return m


def cargo_build(target_dir):
    run(
        ["cargo", "build", "--release", "--bin", "trestle", "--example", "gen"],
        cwd=REPO,
        env={**os.environ, "CARGO_TARGET_DIR": str(target_dir)},
    )
    return target_dir / "release" / "trestle", target_dir / "release" / "examples" / "gen"


# Output trees of cold builds, deleted when the whole run is over (see `bench_trestle`).
stale = []


def bench_trestle(trestle, gen, work, sizes, runs, out_dir=None):
    rows = []
    for n in sizes:
        spec = work / f"spec-{n}"
        out = (out_dir or work) / f"out-{n}"
        if not spec.exists():
            run([gen, str(n), spec], stderr=subprocess.DEVNULL)
        spec_files, spec_bytes = tree_size(spec)
        common = ["--today", "2026-01-01", "--color", "never"]
        nothing = lambda: None
        r = runs if n < 10000 else max(1, runs // 2)
        rows.append(("validate", n, spec_files, spec_bytes,
                     median_of(r, nothing, [trestle, "validate", spec, *common]), None))
        if n < 100:
            continue  # the pre-commit case: validate only
        # Each cold build writes into a folder that never existed, as in CI on a clean clone.
        # Old trees are deleted only at the very end: on ext4, creating files right after
        # deleting thousands makes the inode allocator skip every recently deleted inode
        # (`recently_deleted` in the kernel), which multiplied the system time of a cold
        # build by up to 5 and measured the harness's `rm -rf`, not trestle.
        fresh = iter(range(1, 1000))
        def new_out():
            nonlocal out
            out = out.with_name(f"out-{n}-{next(fresh)}")
            shutil.rmtree(out, ignore_errors=True)  # a leftover of an earlier harness run
            stale.append(out)
        cold = median_of(r, new_out, lambda: [trestle, "build", spec, "--out", out, *common])
        rows.append(("cold build", n, spec_files, spec_bytes, cold, tree_size(out)))
        warm = median_of(r, nothing, [trestle, "build", spec, "--out", out, *common])
        m = re.search(r"wrote (\d+) files?", warm["stderr"])
        rows.append(("warm build", n, spec_files, spec_bytes, warm, (int(m.group(1)) if m else -1, 0)))
        rows.append(("check", n, spec_files, spec_bytes,
                     median_of(r, nothing, [trestle, "check", spec, "--out", out, *common]), None))
    return rows


# ---- peers -------------------------------------------------------------------------------

def ensure_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        run([sys.executable, "-m", "venv", VENV])
    have = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.lower()
    missing = [f"{k}=={v}" for k, v in PEERS.items() if f"{k.replace('-', '_')}=={v}" not in have.replace("-", "_")]
    if missing:
        run([py, "-m", "pip", "install", "--quiet", *missing])
    return py


def image(i):
    return f"registry.example.com/svc-{i:05d}:1.{i % 17}.{i % 5}"


def peer_trestle(d, n):
    """One production environment; per service a container, a Service and a postgres (RDS)."""
    (d / "apps").mkdir(parents=True)
    (d / "platform.kdl").write_text(
        'environment prod {\n    type production\n    region eu-central-1\n'
        '    terraform {\n        required-version ">= 1.6"\n'
        '        provider aws source="hashicorp/aws" version="~> 5.0" region=eu-central-1\n    }\n}\n'
        'team core {\n    title "Core"\n    email "core@example.com"\n    member ada email="ada@example.com"\n}\n'
        'system shop { owner core; description "Shop"; }\n'
    )
    for i in range(n):
        (d / "apps" / f"svc-{i:05d}.kdl").write_text(
            f"workload svc-{i:05d} {{\n    owner core\n    system shop\n    replicas 2\n"
            f'    container main {{\n        image "{image(i)}"\n        port http 8080\n'
            f'        env DB_HOST="${{resources.db.host}}"\n'
            f'        cpu request="100m" limit="1"\n        memory request="128Mi" limit="256Mi"\n'
            f'        probe liveness http path="/healthz" port=http\n'
            f'        probe readiness http path="/ready" port=http\n    }}\n'
            f"    service {{ port http 80 target=http }}\n"
            f"    resource db type=postgres\n}}\n"
        )


KAPITAN_CLASS = """parameters:
  kapitan:
    compile:
      - output_path: .
        input_type: jinja2
        input_paths:
          - templates
  namespace: shop-prod
  replicas: 2
"""

KAPITAN_TEMPLATES = {
    "deployment.yml": """{% set p = inventory.parameters %}apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ p.name }}
  namespace: {{ p.namespace }}
  labels:
    app.kubernetes.io/name: {{ p.name }}
spec:
  replicas: {{ p.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ p.name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ p.name }}
    spec:
      containers:
        - name: main
          image: "{{ p.image }}"
          env:
            - name: DB_HOST
              value: "{{ p.name }}-db.example.internal"
          ports:
            - name: http
              containerPort: 8080
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: "1", memory: 256Mi}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          readinessProbe: {httpGet: {path: /ready, port: http}}
""",
    "service.yml": """{% set p = inventory.parameters %}apiVersion: v1
kind: Service
metadata:
  name: {{ p.name }}
  namespace: {{ p.namespace }}
spec:
  selector:
    app.kubernetes.io/name: {{ p.name }}
  ports:
    - name: http
      port: 80
      targetPort: http
""",
    "db.tf.json": """{% set p = inventory.parameters %}{
  "resource": {
    "aws_db_instance": {
      "{{ p.name }}-db": {
        "identifier": "prod-{{ p.name }}-db",
        "engine": "postgres",
        "engine_version": "16",
        "instance_class": "db.t4g.medium",
        "allocated_storage": 20,
        "storage_encrypted": true,
        "username": "app"
      }
    }
  }
}
""",
}


def peer_kapitan(d, n):
    (d / "inventory" / "classes").mkdir(parents=True)
    (d / "inventory" / "targets").mkdir(parents=True)
    (d / "templates").mkdir()
    (d / "inventory" / "classes" / "service.yml").write_text(KAPITAN_CLASS)
    for name, text in KAPITAN_TEMPLATES.items():
        (d / "templates" / name).write_text(text)
    for i in range(n):
        name = f"svc-{i:05d}"
        (d / "inventory" / "targets" / f"{name}.yml").write_text(
            f"classes:\n  - service\nparameters:\n  kapitan:\n    vars:\n      target: {name}\n"
            f"  name: {name}\n  image: {image(i)}\n"
        )


KCL_MAIN = """_ns = "shop-prod"
_labels = lambda n: str -> {str:str} {
    {"app.kubernetes.io/name" = n}
}

manifests = [m for s in _services for m in [
    {
        apiVersion = "apps/v1", kind = "Deployment"
        metadata = {name = s.name, namespace = _ns, labels = _labels(s.name)}
        spec = {
            replicas = 2
            selector.matchLabels = _labels(s.name)
            template = {
                metadata.labels = _labels(s.name)
                spec.containers = [{
                    name = "main", image = s.image
                    env = [{name = "DB_HOST", value = "${s.name}-db.example.internal"}]
                    ports = [{name = "http", containerPort = 8080}]
                    resources = {requests = {cpu = "100m", memory = "128Mi"}, limits = {cpu = "1", memory = "256Mi"}}
                    livenessProbe.httpGet = {path = "/healthz", port = "http"}
                    readinessProbe.httpGet = {path = "/ready", port = "http"}
                }]
            }
        }
    }
    {
        apiVersion = "v1", kind = "Service"
        metadata = {name = s.name, namespace = _ns}
        spec = {selector = _labels(s.name), ports = [{name = "http", port = 80, targetPort = "http"}]}
    }
]]

terraform = {resource.aws_db_instance = {
    "${s.name}-db": {
        identifier = "prod-${s.name}-db", engine = "postgres", engine_version = "16"
        instance_class = "db.t4g.medium", allocated_storage = 20, storage_encrypted = True, username = "app"
    } for s in _services
}}
"""

KCL_RUN = """import json, os, sys
import kcl_lib.api as api
import yaml
r = api.API().exec_program(api.ExecProgramArgs(k_filename_list=["services.k", "main.k"]))
if r.err_message:
    sys.exit(r.err_message)
out = json.loads(r.json_result)
os.makedirs("out/kubernetes", exist_ok=True)
for m in out["manifests"]:
    with open(f"out/kubernetes/{m['metadata']['name']}-{m['kind'].lower()}.yaml", "w") as f:
        yaml.safe_dump(m, f, sort_keys=False)
with open("out/main.tf.json", "w") as f:
    json.dump({"resource": out["terraform"]["resource"]}, f, indent=2)
"""


def peer_kcl(d, n):
    d.mkdir(parents=True)
    (d / "services.k").write_text(
        "_services = [\n" + "".join(f'    {{name = "svc-{i:05d}", image = "{image(i)}"}}\n' for i in range(n)) + "]\n"
    )
    (d / "main.k").write_text(KCL_MAIN)
    (d / "run.py").write_text(KCL_RUN)


def bench_peers(trestle, work, n, runs):
    py = ensure_venv()
    d = work / f"peers-{n}"
    shutil.rmtree(d, ignore_errors=True)
    peer_trestle(d / "trestle", n)
    peer_kapitan(d / "kapitan", n)
    peer_kcl(d / "kcl", n)
    rows = []
    out = d / "trestle-out"
    rows.append(("trestle build", median_of(
        runs, lambda: shutil.rmtree(out, ignore_errors=True),
        [trestle, "build", d / "trestle", "--out", out, "--today", "2026-01-01", "--color", "never"]), out))
    kout = d / "kapitan" / "compiled"
    rows.append(("kapitan compile", median_of(
        runs, lambda: shutil.rmtree(kout, ignore_errors=True),
        [VENV / "bin" / "kapitan", "compile"], cwd=d / "kapitan"), kout))
    cout = d / "kcl" / "out"
    rows.append(("kcl (kcl-lib)", median_of(
        runs, lambda: shutil.rmtree(cout, ignore_errors=True),
        [py, "run.py"], cwd=d / "kcl"), cout))
    return rows


# ---- report ------------------------------------------------------------------------------

def machine():
    cpu = re.search(r"Model name:\s*(.*)", subprocess.run(["lscpu"], capture_output=True, text=True).stdout)
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return (f"{cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} cores, "
            f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}")


def ms(s):
    return f"{s * 1000:,.0f} ms" if s < 10 else f"{s:,.1f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="40,100,1000,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-n", type=int, default=1000)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--out-dir", default=None,
                    help="where the output trees go (default: the scratch folder); e.g. /dev/shm "
                         "to take the file system's file creation out of the figures")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="trestle-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    trestle, gen = cargo_build(Path(a.target_dir))
    version = subprocess.run([trestle, "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()

    print(f"Machine: {machine()}\n{version} (commit {commit}, release build)\n")
    rows = bench_trestle(trestle, gen, work, sizes, a.runs, Path(a.out_dir) if a.out_dir else None)
    print("| N | verb | spec files (bytes) | wall | CPU | peak RSS | files written (bytes) | target |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    by = {}
    for verb, n, sf, sb, r, written in rows:
        by[(verb, n)] = r["wall"]
        target = TARGETS_MS.get((verb, n))
        verdict = "" if target is None else ("met" if r["wall"] * 1000 <= target else f"**missed** (≤ {target:,} ms)")
        if (verb, n) == ("cold build", 10000):
            verdict += "; RSS " + ("met" if r["rss_kb"] <= 1024 * 1024 else "**missed** (≤ 1 GiB)")
        w = "" if written is None else f"{written[0]:,} ({written[1] / 1e6:.1f} MB)"
        print(f"| {n:,} | {verb} | {sf:,} ({sb / 1e6:.1f} MB) | {ms(r['wall'])} | {ms(r['cpu'])} | "
              f"{r['rss_kb'] / 1024:,.0f} MiB | {w} | {verdict} |")
    if ("cold build", 1000) in by and ("cold build", 10000) in by:
        print(f"\n10k/1k cold build ratio: {by[('cold build', 10000)] / by[('cold build', 1000)]:.1f}× (target ≤ 12×)")
    peers = []
    if not a.no_peers:
        peers = bench_peers(trestle, work, a.peer_n, a.runs)
        base = peers[0][1]["wall"]
        print(f"\nPeer job: {a.peer_n:,} services, one environment, a Deployment, a Service and one Terraform database each\n")
        print("| tool | wall | CPU | peak RSS | files written (bytes) | wall vs trestle |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r, out in peers:
            f, b = tree_size(out)
            print(f"| {name} | {ms(r['wall'])} | {ms(r['cpu'])} | {r['rss_kb'] / 1024:,.0f} MiB | "
                  f"{f:,} ({b / 1e6:.1f} MB) | {r['wall'] / base:.1f}× |")
    if a.json:
        Path(a.json).write_text(json.dumps({
            "machine": machine(), "version": version, "commit": commit,
            "trestle": [{"verb": v, "n": n, **{k: r[k] for k in ("wall", "cpu", "rss_kb")}} for v, n, _, _, r, _ in rows],
            "peers": [{"tool": t, **{k: r[k] for k in ("wall", "cpu", "rss_kb")}} for t, r, _ in peers],
        }, indent=2))
    for d in stale[:-1]:  # the last tree stays, to look at
        shutil.rmtree(d, ignore_errors=True)
    print(f"\nscratch: {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
