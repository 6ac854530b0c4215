"""Every GPU goal measured in one run, and the real study's wall time projected from it.

    python benchmarks/gpu_suite.py                 # on a GPU: the full suite, <= 8 minutes on one H100/H200
    python benchmarks/gpu_suite.py --quick         # every part at toy size on the CPU, < 2 minutes

Parts (each one timed and recorded on its own; a part that fails is reported and the rest
still run):

* ``throughput``: images/s of our training loop (``train_throughput.ours``: uint8 data on the
  device, bf16 autocast, channels_last) beside a plain loop, HMO-like at 64 px and AlexNet-style
  at 224 px.
* ``cifar``: one CIFAR-10 HMO seed, end to end: the real JPEGs decoded once into a uint8 array
  (cached in ``--cifar-cache``, so a rerun skips the decoding), kept on the device, cropped and
  flipped there, trained with one-cycle SGD and label smoothing; test accuracy, training seconds,
  seconds end to end.
* ``ridge``: 5,760 images x 4,096 features -> 296 sites, 10 folds, penalty per site
  (``mapping.gpu_size_ridge``).
* ``features``: every layer of the AlexNet-style network on 5,760 images at 224 px, reduced
  as in ``config/real.yaml``; images/s and peak device memory.
* ``projection``: each architecture's training and extraction rates at ``config/real.yaml``'s
  image size, then the whole DAG (``projection.py``) on one GPU node and on ``--nodes`` nodes.

Prints one table (goal | measured | target | met) and writes it, with the details and the
assumptions, as JSON (``--out``). Exits 0 whether or not goals are met, 1 when a part failed.
"""

import os
import sys

# Before torch is imported: the quick run shares a small CPU machine; idle OpenMP threads
# sleep rather than spin (see mapping.py).
if "--quick" in sys.argv:
    os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402

import features_memory  # noqa: E402
import mapping  # noqa: E402
import projection  # noqa: E402
import train_throughput  # noqa: E402
from goaldriven.models import features as features_mod  # noqa: E402
from goaldriven.models.zoo import build_model  # noqa: E402
from goaldriven.data.stimulus_sets import DIMS, read_image_folder  # noqa: E402
from goaldriven.models.train import normalise  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CIFAR = mapping.SHARED / "cifar10" / "cifar10-images.tar.gz"
REAL = "real"
# Full size on a GPU, toy size on the CPU.
SIZES = {
    "full": dict(hmo=(64, 1024, 40, 1.0), alexnet=(224, 512, 20, 1.0), repeats=3,
                 cifar=dict(per_class=None, size=64, width=1.0, epochs=16, batch=512, lr=0.4),
                 ridge=(5760, 4096, 296), features=(5760, 224, 256), proj_steps=20, proj_images=2048, width=1.0),
    "quick": dict(hmo=(32, 32, 2, 0.25), alexnet=(64, 16, 2, 0.25), repeats=1,
                  cifar=dict(per_class=20, size=32, width=0.25, epochs=2, batch=64, lr=0.2),
                  ridge=(576, 512, 32), features=(64, 64, 32), proj_steps=2, proj_images=64, width=0.25),
}


# --- training throughput ------------------------------------------------------------------

def throughput(arch: str, size: int, batch: int, steps: int, width: float, repeats: int, device):
    x, y = train_throughput._random_set(steps * batch, size)
    ours = train_throughput.ours(arch, x, y, batch, width, device, repeats)[0]  # by the wall clock
    plain = train_throughput.reference(arch, x, y, batch, width, device, repeats)
    return ours, plain


# --- CIFAR-10, one HMO seed ---------------------------------------------------------------

def cifar_arrays(source: Path, per_class, cache: Path | None):
    """uint8 (N, 32, 32, 3) images and labels of both splits, and where they came from.
    The JPEGs are decoded once (``read_image_folder``); the arrays are cached in ``cache``."""
    if cache is not None and cache.exists() and per_class is None:
        with np.load(cache) as z:
            if str(z["source"]) == str(source):  # a cache of another tarball is decoded again
                return {k: z[k] for k in z.files if k != "source"}, f"cache {cache}"
    if not source.exists():
        if per_class is None:
            raise FileNotFoundError(f"{source}: CIFAR-10 tarball not found (pass --cifar)")
        rng = np.random.default_rng(0)  # toy stand-in of the same shape, for --quick without the data
        return {f"{s}_{k}": v for s, n in (("train", 10 * per_class), ("test", 10 * per_class // 2))
                for k, v in (("x", rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)),
                             ("y", rng.integers(0, 10, n)))}, "synthetic (tarball not found)"
    out = {}
    for split in ("train", "test"):
        da = read_image_folder(source, subdir=split, per_class=per_class and (per_class if split == "train"
                                                                               else per_class // 2))
        out[f"{split}_x"], out[f"{split}_y"] = da.values, da["label"].values.astype(np.int64)
    if cache is not None and per_class is None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, source=str(source), **out)
    return out, f"decoded from {source}"


def _augment(padded: torch.Tensor, side: int) -> torch.Tensor:
    """Random crops of ``side`` px (one offset per image) and horizontal flips, on the device."""
    n, pad = len(padded), padded.shape[-1] - side
    ar = torch.arange(side, device=padded.device)
    rows = (torch.randint(0, pad + 1, (n, 1), device=padded.device) + ar)[:, None, :, None]
    cols = (torch.randint(0, pad + 1, (n, 1), device=padded.device) + ar)[:, None, None, :]
    chans = torch.arange(padded.shape[1], device=padded.device)[None, :, None, None]
    crops = padded[torch.arange(n, device=padded.device)[:, None, None, None], chans, rows, cols]
    flip = torch.rand(n, 1, 1, 1, device=padded.device) < 0.5
    return torch.where(flip, crops.flip(-1), crops)


def _prepare(x_uint8: torch.Tensor, size: int) -> torch.Tensor:
    x = normalise(x_uint8)
    if x.shape[-1] != size:  # HMO's first layer strides 2 and pools: it wants more than 32 px
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.contiguous(memory_format=torch.channels_last)


def cifar_seed(source: Path, cache: Path | None, device, per_class, size, width, epochs, batch, lr,
               compile_model=False) -> dict:
    t_start = time.perf_counter()
    arrays, origin = cifar_arrays(source, per_class, cache)
    t_decoded = time.perf_counter()
    to = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    x_train, y_train = to["train_x"].permute(0, 3, 1, 2), to["train_y"]
    x_test, y_test = to["test_x"].permute(0, 3, 1, 2), to["test_y"]
    # Padded once, as uint8, so each batch is only a gather (reflection keeps edges natural).
    padded = torch.nn.functional.pad(x_train.float(), (4, 4, 4, 4), mode="reflect").to(torch.uint8)
    torch.manual_seed(0)
    model = build_model("hmo", 10, width).to(device)
    fast = device.type == "cuda"
    if fast:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compile_model else model
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4,
                          **({"fused": True} if fast else {}))
    steps_per_epoch = len(x_train) // batch  # whole batches only: a fixed shape for cuDNN and compile
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps_per_epoch, pct_start=0.25)
    train_throughput._sync(device)
    t_train = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), device=device)
        for i in range(steps_per_epoch):
            idx = order[i * batch:(i + 1) * batch]
            xb = _prepare(_augment(padded[idx], x_train.shape[-1]), size)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
                loss = torch.nn.functional.cross_entropy(step_model(xb).float(), y_train[idx], label_smoothing=0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    train_throughput._sync(device)
    train_s = time.perf_counter() - t_train
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
        for i in range(0, len(x_test), 1000):
            correct += (model(_prepare(x_test[i:i + 1000], size)).argmax(1) == y_test[i:i + 1000]).sum()
    accuracy = correct.item() / len(x_test)
    return {"test_accuracy": accuracy, "train_s": train_s, "end_to_end_s": time.perf_counter() - t_start,
            "load_s": t_decoded - t_start, "data": origin, "n_train": len(x_train), "n_test": len(x_test),
            "size": size, "width": width, "epochs": epochs, "batch": batch, "lr": lr, "compiled": compile_model}


# --- feature extraction -------------------------------------------------------------------

def extraction_rate(arch: str, n: int, size: int, batch: int, width: float, device, input_size=None):
    """Images/s of extracting every layer (reduced as config/real.yaml asks), the peak device
    memory in bytes (the process's peak RSS on the CPU), the seconds to set the extraction up
    (not in the rate) and each layer's stored width."""
    real = projection.yaml.safe_load((REPO / "config" / f"{REAL}.yaml").read_text())["features"]
    spec = features_mod.FeatureSpec(pooling=real["pooling"], reduction=real["reduction"],
                                    max_features=real["max_features"], projection_seed=real["projection_seed"])
    rng = np.random.default_rng(0)
    stimuli = xr.DataArray(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), dims=DIMS)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "weights.safetensors"
        features_memory.write_weights(weights, input_size or size, arch=arch, width=width)
        t0 = time.perf_counter()  # loading the network and drawing the projection matrices
        run = features_mod._Extraction(weights, stimuli, None, spec, batch, input_size, device.type, False)
        setup_s = time.perf_counter() - t0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        train_throughput._sync(device)
        t0 = time.perf_counter()
        for _ in run.reduced():  # every batch ends on the host, as numpy: no further sync needed
            pass
        seconds = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return n / seconds, peak, setup_s, list(run.widths().values())


# --- the suite ----------------------------------------------------------------------------

def row(goal: str, measured, unit: str, target: str, met, setup: str = "", **extra) -> dict:
    return {"goal": goal, "measured": measured, "unit": unit, "target": target, "met": met, "setup": setup, **extra}


def part_throughput(a, size, device):
    rows = []
    for arch, target in (("hmo", 150_000), ("alexnet", 30_000)):
        px, batch, steps, width = size[arch]
        ours, plain = throughput(arch, px, batch, steps, width, size["repeats"], device)
        rows.append(row(f"train {arch} {px} px", round(ours), "img/s", f">= {target:,}", ours >= target,
                        f"batch {batch}, width {width}, {steps} steps; plain loop {plain:,.0f} img/s",
                        plain_loop=round(plain)))
    return rows


def part_cifar(a, size, device):
    options = {**size["cifar"], **{k: v for k, v in (("epochs", a.cifar_epochs), ("size", a.cifar_size),
                                                     ("lr", a.cifar_lr), ("batch", a.cifar_batch)) if v}}
    r = cifar_seed(Path(a.cifar), None if a.no_cache else Path(a.cifar_cache), device,
                   compile_model=a.compile, **options)
    setup = (f"{r['n_train']:,} train / {r['n_test']:,} test images, {r['epochs']} epochs at {r['size']} px, "
             f"batch {r['batch']}, width {r['width']}; data {r['data']} in {r['load_s']:.1f} s")
    return [row("CIFAR-10 HMO test accuracy", round(r["test_accuracy"], 4), "", ">= 0.85",
                r["test_accuracy"] >= 0.85, setup, details=r),
            row("CIFAR-10 HMO training time", round(r["train_s"], 2), "s", "<= 10", r["train_s"] <= 10, setup),
            row("CIFAR-10 HMO end to end", round(r["end_to_end_s"], 2), "s", "<= 20", r["end_to_end_s"] <= 20,
                "data loading, device transfer, training and test included")]


def part_ridge(a, size, device):
    n, p, t = size["ridge"]
    seconds, median_r = mapping.gpu_size_ridge(10, n, p, t, device.type)
    return [row("ridge mapping, 10 folds", round(seconds, 3), "s", "< 1", seconds < 1,
                f"{n:,} images x {p:,} features -> {t} sites, penalty per site; median r {median_r:.3f}")]


def part_features(a, size, device):
    n, px, batch = size["features"]
    n = a.features_images or n
    rate, peak, setup_s, _ = extraction_rate("alexnet", n, px, batch, 1.0, device)
    memory = "device memory" if device.type == "cuda" else "host RSS (CPU run)"
    setup = f"{n:,} images at {px} px, every layer, batch {batch}; {setup_s:.1f} s to build the projections"
    return [row(f"features alexnet {px} px", round(rate, 1), "img/s", "(none set)", None, setup,
                seconds=round(n / rate, 2), setup_s=round(setup_s, 2)),
            row(f"features alexnet {px} px, peak {memory}", round(peak / 2**30, 2), "GiB", "(none set)", None,
                setup)]


def part_projection(a, size, device, measured):
    """Rates of every arch of config/real.yaml at its training size, then the DAG schedule."""
    config = projection.yaml.safe_load((REPO / "config" / f"{REAL}.yaml").read_text())
    px, batch = config["training"]["size"], config["models"]["batch_size"]
    width = size["width"]
    train_rate, feat_rate, feat_setup, widths = {}, {}, {}, {}
    for arch in config["models"]["archs"]:
        x, y = train_throughput._random_set(size["proj_steps"] * batch, px)
        train_rate[arch] = train_throughput.ours(arch, x, y, batch, width, device, 1)[0]
        # Benchmark images are 112 px (Cowley) and shown at the training size.
        feat_rate[arch], _, feat_setup[arch], widths[arch] = extraction_rate(
            arch, size["proj_images"], 112, 256, width, device, input_size=px)
    ridge = next((r for r in measured if r["goal"].startswith("ridge")), None)
    if ridge is None:
        raise RuntimeError("the ridge part did not run; the projection needs its time")
    n, p, t = size["ridge"]
    # A toy ridge (--quick) is scaled to the reference size with the projection's cost model.
    unit = projection.ridge_seconds(projection.Rates({}, {}, {}, {}, ridge_s=1.0), n, p, t)
    rates = projection.Rates(train_rate, feat_rate, feat_setup, widths, ridge["measured"] / unit,
                             job_overhead_s=a.job_overhead, slurm_latency_s=a.slurm_latency,
                             assumptions=[f"rates measured on {device_name(device)} at width {width}: training at "
                                          f"{px} px batch {batch}, extraction of 112 px images shown at {px} px"])
    out = projection.project(REAL, rates, nodes=a.nodes, cpus=a.cpus)
    local = out["hours"]["1 node (local)"]
    setup = (f"{out['jobs']} jobs, {projection.n_trained_models(REAL)} models; GPU work "
             f"{out['gpu_seconds_total'] / 3600:.2f} h; assumptions in the JSON")
    rows = [row(f"config/{REAL}.yaml, 1 GPU node", round(local, 3), "h", "< 1", local < 1, setup, projection=out)]
    rows += [row(f"config/{REAL}.yaml, {label}", round(hours, 3), "h", "(informative)", None,
                 f"{a.cpus} CPUs per node, {a.slurm_latency:.0f} s queue latency per job")
             for label, hours in out["hours"].items() if "SLURM" in label]
    return rows


def device_name(device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_table(rows) -> None:
    width = max(len(r["goal"]) for r in rows)
    print(f"\n{'goal':{width}s} | {'measured':>16s} | {'target':>13s} | met | setup")
    print("-" * (width + 60))
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['goal']:{width}s} | {fmt(r['measured']):>10s} {r['unit']:5s} | {r['target']:>13s} | {met:3s} | "
              f"{r['setup']}")


def print_projection(out: dict) -> None:
    print(f"\nprojection of config/{out['config']}.yaml, per rule: jobs, summed job time")
    for rule, r in out["per_rule"].items():
        print(f"  {rule:20s} {r['jobs']:4d} jobs {r['job_seconds'] / 3600:8.3f} h{'  (GPU)' if r['gpu'] else ''}")
    print("assumptions:")
    for line in out["assumptions"]:
        print(f"  - {line}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="every part at toy size (CPU, < 2 minutes)")
    p.add_argument("--parts", default="throughput,cifar,ridge,features,projection")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gpu_suite.json"))
    p.add_argument("--cifar", default=str(CIFAR), help="CIFAR-10 tarball of JPEGs")
    p.add_argument("--cifar-cache", default=str(REPO / "benchmarks" / "results" / "cifar10_uint8.npz"),
                   help="decoded CIFAR-10 arrays, written on the first full run and read after")
    p.add_argument("--no-cache", action="store_true", help="decode the JPEGs even if the cache exists")
    p.add_argument("--compile", action="store_true", help="torch.compile the CIFAR model")
    p.add_argument("--cifar-epochs", type=int, help="override the CIFAR recipe's epochs")
    p.add_argument("--cifar-size", type=int, help="... its image side (the 32 px images are upsampled)")
    p.add_argument("--cifar-lr", type=float, help="... its peak learning rate")
    p.add_argument("--cifar-batch", type=int, help="... its batch size")
    p.add_argument("--features-images", type=int, help="images of the features part (default 5,760)")
    p.add_argument("--nodes", default="1,2,4,8", help="node counts of the SLURM projection")
    p.add_argument("--cpus", type=int, default=16, help="CPU slots per node in the projection")
    p.add_argument("--job-overhead", type=float, default=8.0, help="start-up seconds of every job")
    p.add_argument("--slurm-latency", type=float, default=30.0, help="seconds from submission to start")
    a = p.parse_args()
    a.nodes = [int(n) for n in a.nodes.split(",")]
    if not a.quick and not torch.cuda.is_available():  # full sizes on a CPU would take hours
        p.error("torch sees no CUDA GPU: the full suite needs one; --quick runs it at toy size on the CPU")
    device = torch.device("cuda" if not a.quick else "cpu")
    size = SIZES["quick" if a.quick else "full"]
    t0 = time.perf_counter()
    rows, errors, seconds = [], {}, {}
    parts = {"throughput": part_throughput, "cifar": part_cifar, "ridge": part_ridge, "features": part_features,
             "projection": lambda a, size, device: part_projection(a, size, device, rows)}
    for name in a.parts.split(","):
        t = time.perf_counter()
        print(f"[{time.perf_counter() - t0:6.1f} s] {name} ...", flush=True)
        try:
            rows += parts[name](a, size, device)
        except Exception as e:  # one part failing must not hide the others' figures
            errors[name] = f"{type(e).__name__}: {e}"
            traceback.print_exc()
            rows.append(row(f"{name}: FAILED", None, "", "-", None, errors[name][:100]))
        seconds[name] = round(time.perf_counter() - t, 1)
    total = time.perf_counter() - t0
    limit = 120 if a.quick else 480
    rows.append(row("whole suite", round(total, 1), "s", f"<= {limit}", total <= limit,
                    ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()), parts_s=seconds))
    print_table(rows)
    for r in rows:
        if "projection" in r:
            print_projection(r["projection"])
    if a.quick:
        print("\n--quick: toy sizes on the CPU; the figures check that every part runs, not the goals")
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "device": device_name(device), "torch": torch.__version__, "quick": a.quick, "rows": rows,
              "errors": errors}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    print(f"\n{device_name(device)}, torch {torch.__version__}; written {out}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
