"""Training throughput (images/s) of our loop next to a plain reference loop, per architecture.

"ours" is one epoch of :func:`goaldriven.models.train._train_epoch` (shuffled batches gathered from
uint8 images, normalised per batch, loss and accuracy summed on the device, one host sync per
epoch, learning-rate schedule stepped per batch). "reference" is a minimal hand-written loop
with the normalised data already on the device in consecutive slices: SGD with momentum, bf16
autocast on CUDA (float32 on CPU, like ours). Both run in the same process on random images,
after one warm-up epoch each (cuDNN autotuning, allocator), timed to the last sync; the
fastest of ``--repeats`` epochs counts (the least disturbed by other work on the machine).

Targets on one H100 (not checkable without one): HMO-like (``hmo``) at 64 px >= 150,000
images/s and AlexNet-style (``alexnet``) at 224 px >= 30,000 images/s, at large batches:

    python benchmarks/train_throughput.py --devices cuda --archs hmo --size 64 --batch 1024
    python benchmarks/train_throughput.py --devices cuda --archs alexnet --size 224 --batch 512

On CPU keep it small, e.g. ``--size 32 --batch 32 --steps 4 --width 0.25``; ``--recipe`` times
ours with the crops, flips and label smoothing of config/real_cpu.yaml against the same plain
reference (which has none of them). The numerics are the ``goaldriven`` command's default,
portable (ISA capped at AVX2, one thread; pinned before torch loads), unless ``--numerics fast``.
``--width`` takes one multiplier for all or one per architecture (``hmo=1.5,vgg=0.5``). Beside
images/s (wall clock) it prints images per CPU-second of the process (``ours img/cpu-s``): on a
machine shared with other work that is close to what an idle core gives a one-thread run.
To size a CPU study (config/real_cpu.yaml), e.g.:

    python benchmarks/train_throughput.py --size 32 --batch 128 --steps 20 --recipe --no-reference \
        --archs hmo,alexnet,vgg,resnet,cornet,convmixer --width hmo=1.5,alexnet=1.0,vgg=0.5
"""

import argparse
import time

from goaldriven.core import numerics

# Before torch loads (it reads the pins once): portable unless asked otherwise.
_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--numerics", choices=("portable", "fast"), default="portable")
_pre.add_argument("--threads", type=int, default=None)
_early = _pre.parse_known_args()[0]
numerics.pin(_early.numerics, _early.threads)

import torch  # noqa: E402

from goaldriven.models import train as train_mod  # noqa: E402
from goaldriven.models.zoo import build_model  # noqa: E402

N_CLASSES = 8


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _random_set(n: int, size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    # (N, H, W, 3) uint8 viewed as (N, 3, H, W), as train.load_labelled_images returns them.
    x = torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g).permute(0, 3, 1, 2)
    return x, torch.randint(0, N_CLASSES, (n,), generator=g)


def _model(arch: str, width: float, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(arch, N_CLASSES, width).to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def ours(arch, x, y, batch, width, device, repeats, augment_pad=0, label_smoothing=0.0) -> tuple[float, float]:
    """Images/s of our training loop (with the recipe's crops, flips and label smoothing when
    asked), by the wall clock and per CPU-second of this process: the fastest epoch after a
    warm-up epoch."""
    cfg = train_mod.TrainConfig(arch=arch, seed=0, epochs=1 + repeats, width=width, batch_size=batch,
                                augment_pad=augment_pad, label_smoothing=label_smoothing)
    with train_mod._numerics(device):
        model = _model(arch, width, device)
        images = train_mod._Images(x, y, device)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                              weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, train_mod._lr_lambda(cfg.epochs * len(x) // batch))
        rng = torch.Generator().manual_seed(0)
        augment = train_mod._Augment(augment_pad, seed=1) if augment_pad else None
        bar = train_mod._progress(total=0, initial=0, desc="", enabled=False)
        seconds, cpu = [], []
        for _ in range(cfg.epochs):
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            train_mod._train_epoch(cfg, model, images, opt, sched, rng, augment, bar)
            seconds.append(time.perf_counter() - t0)  # _train_epoch ends with a host sync
            cpu.append(time.process_time() - c0)
    return len(x) / min(seconds[1:]), len(x) / min(cpu[1:])


def reference(arch, x, y, batch, width, device, repeats) -> float:
    """Images/s of a minimal SGD loop with the normalised data already on the device: the
    fastest epoch after a warm-up epoch."""
    model = _model(arch, width, device)
    xs = train_mod.normalise(x.to(device)).contiguous(memory_format=torch.channels_last)
    ys = y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    seconds = []
    for _ in range(1 + repeats):
        _sync(device)
        t0 = time.perf_counter()
        for i in range(0, len(xs), batch):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = torch.nn.functional.cross_entropy(model(xs[i:i + batch]).float(), ys[i:i + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        seconds.append(time.perf_counter() - t0)
    return len(xs) / min(seconds[1:])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", default="hmo,alexnet,vgg,resnet18,resnet,cornet,convmixer")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="batches per timed epoch")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs; the fastest counts")
    p.add_argument("--width", default="1.0",
                   help="channel width multiplier: one for all, or ARCH=W,... (others 1.0)")
    p.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (fast numerics only)")
    p.add_argument("--numerics", choices=("portable", "fast"), default="portable",
                   help="portable (the goaldriven command's default: AVX2, one thread) or fast")
    p.add_argument("--recipe", action="store_true",
                   help="ours with the real_cpu recipe: random crops (pad 4), flips, label smoothing 0.1")
    p.add_argument("--no-reference", action="store_true", help="time our loop only")
    a = p.parse_args()
    numerics.configure_torch(a.numerics, a.threads)
    widths = _widths(a.width)
    x, y = _random_set(a.steps * a.batch, a.size)
    print(f"{a.steps} steps x batch {a.batch}, {a.size} px, torch {torch.__version__}, {a.numerics} numerics, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'arch':10s} {'width':>6s} {'params':>10s} {'device':6s} {'ours img/s':>11s} {'img/cpu-s':>10s} "
          f"{'reference img/s':>16s} {'ours/ref':>9s}")
    for device in (torch.device(d) for d in a.devices.split(",")):
        for arch in a.archs.split(","):
            width = widths.get(arch, widths.get("", 1.0))
            recipe = {"augment_pad": 4, "label_smoothing": 0.1} if a.recipe else {}
            r_ours, r_cpu = ours(arch, x, y, a.batch, width, device, a.repeats, **recipe)
            r_ref = float("nan") if a.no_reference else reference(arch, x, y, a.batch, width, device, a.repeats)
            n_params = sum(p.numel() for p in build_model(arch, 10, width).parameters())
            print(f"{arch:10s} {width:6g} {n_params:10,d} {device.type:6s} {r_ours:11,.0f} {r_cpu:10,.0f} "
                  f"{r_ref:16,.0f} {r_ours / r_ref:9.2f}", flush=True)


def _widths(text: str) -> dict[str, float]:
    """'0.5' -> {'': 0.5} (every architecture); 'hmo=1.5,vgg=0.5' -> {'hmo': 1.5, 'vgg': 0.5}."""
    if "=" not in text:
        return {"": float(text)}
    return {k: float(v) for k, v in (item.split("=") for item in text.split(","))}


if __name__ == "__main__":
    main()
