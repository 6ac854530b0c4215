"""Goal-driven training: categorisation (the goal), two controls (untrained random weights,
an unsupervised autoencoder) and a category-orthogonal task (pose).

Tasks:

- ``supervised``: the network and its linear head learn to categorise the images.
- ``untrained``: the random initialisation is saved as it is (the same seed gives the same
  initialisation as the supervised run, so it is that run's epoch 0).
- ``autoencoder``: a small decoder on the network's top spatial layer learns to reconstruct
  the (normalised) input. Only the network is saved, so features come out the same way;
  its layers above the top spatial one and its head keep their random initialisation.
- ``pose``: the head regresses category-orthogonal properties of the object, its position
  and size (coords ``ty``, ``tz``, ``s`` of the synthetic set, standardised with the training
  set's mean and sd), as in Hong et al. 2016 (Nat. Neurosci. 19:613).

Determinism: on CPU with portable numerics (goaldriven.core.numerics, the default) the same
command gives byte-identical weights on any x86-64 machine with AVX2; with fast numerics, on the
same machine and thread count. A run resumes exactly from its per-epoch checkpoints, which carry
a fingerprint of everything that defines the run, so that a checkpoint of a different run
(other epochs, data, seed, device, numerics...) is never picked up, and have the sha256 of their
bytes beside them, so that a damaged one is skipped rather than loaded as another model. A run
writes only into a new or empty folder or its own earlier output (marked by OUTPUT_MARKER). On CUDA with fast numerics
the loop is built for throughput: bf16 autocast, channels_last, cuDNN autotuning; with portable
numerics it runs float32 with deterministic algorithms (identical reruns on one GPU model). The
uint8 data set is moved to the GPU once when it fits, and no host synchronisation happens inside
an epoch.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import math
import os
import re
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..core.io import OUTPUT_MARKER, InputError, atomic_path, write_json
from ..core.registry import ARCHITECTURES, DEVICE as DEVICES, TASKS
from .zoo import MIN_INPUT_SIZE, Decoder, build_model, top_spatial_layer
from ..core.numerics import effective
from ..core.options import TrainConfig

log = logging.getLogger(__name__)

POSE_TARGETS = ("ty", "tz", "s")

# Keep the data set on the GPU when it takes at most this share of the free memory; the rest
# is for the network's activations.
_GPU_DATA_SHARE = 0.5


def load_labelled_images(path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """uint8 images (N, 3, H, W), integer labels and class names of a labelled stimulus set
    (any path :func:`goaldriven.stimulus_sets.load_stimulus_set` reads)."""
    from ..data.stimulus_sets import load_stimulus_set

    da = load_stimulus_set(path)
    if "label" not in da.coords:
        raise InputError(f"{path}: the images have no 'label' coordinate; training needs labelled images")
    if "categories" not in da.attrs:
        raise InputError(f"{path}: the stimulus set has no 'categories' attribute (the class names)")
    categories = da.attrs["categories"].split(",")
    labels = np.asarray(da["label"].values, dtype=np.int64)
    if len(labels) == 0:
        raise InputError(f"{path}: the stimulus set is empty")
    if len(np.unique(labels)) < 2:
        raise InputError(f"{path}: needs at least two categories to train a categorisation task")
    if labels.min() < 0 or labels.max() >= len(categories):
        raise InputError(f"{path}: labels must lie in 0..{len(categories) - 1} "
                         f"(one per category), found {labels.min()}..{labels.max()}")
    if min(da.sizes["y"], da.sizes["x"]) < MIN_INPUT_SIZE:
        raise InputError(f"{path}: images are {da.sizes['y']}x{da.sizes['x']} pixels; "
                         f"the networks need at least {MIN_INPUT_SIZE}")
    # A (N, 3, H, W) view of the (N, H, W, 3) pixels: channels_last, no copy.
    x = torch.from_numpy(np.ascontiguousarray(da.values)).permute(0, 3, 1, 2)
    return x, torch.from_numpy(labels), categories


def normalise(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float in roughly [-2, 2]; the one preprocessing of every stage."""
    return (x_uint8.float() / 255.0 - 0.5) / 0.25


def load_pose_targets(path) -> np.ndarray:
    """The pose targets (N, 3): position ``ty``, ``tz`` and size ``s`` of each image's object."""
    from ..data.stimulus_sets import load_stimulus_set

    da = load_stimulus_set(path)
    missing = [c for c in POSE_TARGETS if c not in da.coords]
    if missing:
        raise InputError(f"{path}: task 'pose' needs the coordinates {list(POSE_TARGETS)}; missing {missing}")
    return np.stack([np.asarray(da[c].values, dtype=np.float64) for c in POSE_TARGETS], axis=1)


def _standardise_pose(train_path, test_path):
    """Pose targets of both sets as float32 tensors, standardised with the training set's
    mean and sd (so the three targets weigh alike in the loss), and those statistics."""
    t = load_pose_targets(train_path)
    mean, sd = t.mean(0), t.std(0)
    if (sd == 0).any():
        raise InputError(f"{train_path}: pose targets {[c for c, v in zip(POSE_TARGETS, sd) if v == 0]} "
                         "do not vary, so they cannot be learnt")
    scale = {"targets": list(POSE_TARGETS), "mean": mean.tolist(), "sd": sd.tolist()}

    def standardised(targets):
        return torch.from_numpy(((targets - mean) / sd).astype(np.float32))

    return standardised(t), standardised(load_pose_targets(test_path)) if test_path else None, scale


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is an error."""
    if name not in DEVICES:
        raise InputError(f"unknown device {name!r}; choose from {DEVICES}")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def _fingerprint(cfg: TrainConfig, data_digest: str, device: torch.device) -> str:
    # The numerics mode too: a checkpoint of a fast run is not this portable run's epoch.
    payload = [asdict(cfg), data_digest, device.type] + ([] if effective() == "portable" else [effective()])
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _data_digest(x: torch.Tensor, y: torch.Tensor, categories) -> str:
    """sha256 of the pixels, labels and class names: the same data in any file format."""
    h = hashlib.sha256()
    for part in (x.permute(0, 2, 3, 1).contiguous().numpy(), y.contiguous().numpy()):
        h.update(str(part.shape).encode())
        h.update(memoryview(part).cast("B"))
    h.update(",".join(categories).encode())
    return h.hexdigest()


def _lr_lambda(total_steps: int):
    # Linear warm-up then cosine decay: stable for BatchNorm nets at a high learning rate.
    warm = max(1, total_steps // 20)
    return lambda step: (step + 1) / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))


class Autoencoder(nn.Module):
    """The unsupervised control's objective: the network up to its top spatial layer encodes,
    a small :class:`~goaldriven.models.Decoder` reconstructs the normalised input."""

    def __init__(self, network: nn.Module, image_hw: tuple[int, int]):
        super().__init__()
        self.network = network
        self.layer, channels, side = top_spatial_layer(network, image_hw)
        self.decoder = Decoder(channels, side, image_hw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.network.features(x, [self.layer])[self.layer])


class _Images:
    """uint8 images and their targets (labels, or pose targets), kept where batching them is
    cheapest, served as normalised float batches on the compute device."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, device: torch.device):
        self.device = device
        self.x = _stage(x, device)
        self.y = y.to(self.x.device)

    def __len__(self) -> int:
        return len(self.x)

    def order(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """All indices, shuffled by ``generator`` (a CPU one, so the order is device-independent)."""
        idx = torch.arange(len(self)) if generator is None else torch.randperm(len(self), generator=generator)
        return idx.to(self.x.device)

    def batch(self, idx: torch.Tensor, augment: "_Augment | None" = None) -> tuple[torch.Tensor, torch.Tensor]:
        xb = self.x[idx].to(self.device, non_blocking=True)
        if augment is not None:
            xb = augment(xb)
        xb = normalise(xb)
        # Pixels are stored (N, H, W, C), so batches are channels_last already: the faster
        # convolution layout on CPU (oneDNN) and GPU (cuDNN tensor cores) alike.
        return xb.contiguous(memory_format=torch.channels_last), self.y[idx].to(self.device, non_blocking=True)


class _Augment:
    """Random crop (of the image reflect-padded by ``pad`` pixels) and horizontal flip, drawn
    per image from a CPU generator of its own, so that the draws are the same on every device
    and a resumed run continues them exactly (its state is in each checkpoint)."""

    def __init__(self, pad: int, seed: int):
        self.pad = pad
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        n, c, h, w = xb.shape
        p = self.pad
        offsets = torch.randint(0, 2 * p + 1, (2, n), generator=self.generator).to(xb.device)
        flip = (torch.rand(n, generator=self.generator) < 0.5).to(xb.device)
        # Source pixel of every output pixel, reflected at the borders: one gather on the uint8
        # batch instead of padding a float copy (6x faster on a CPU core).
        rows = _reflect(offsets[0][:, None] - p + torch.arange(h, device=xb.device), h)
        cols = _reflect(offsets[1][:, None] - p + torch.arange(w, device=xb.device), w)
        cols = torch.where(flip[:, None], cols.flip(1), cols)
        index = (rows[:, :, None] * w + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
        return torch.gather(xb.contiguous().reshape(n, c, h * w), 2, index).reshape(n, c, h, w)


def _reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    """Indices outside 0..size-1 mirrored back inside (numpy's 'reflect' padding, edge not repeated)."""
    i = i.abs()
    return torch.where(i >= size, 2 * (size - 1) - i, i)


def _stage(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The uint8 data set on the GPU once when it fits (normalised there per batch), else
    left on the host and copied batch by batch."""
    if device.type != "cuda":
        return x
    free, _ = torch.cuda.mem_get_info(device)
    if x.nbytes > _GPU_DATA_SHARE * free:
        log.info("data set (%.1f GB) does not fit on the GPU; copying it batch by batch", x.nbytes / 1e9)
        return x
    return x.to(device)


@contextlib.contextmanager
def _numerics(device: torch.device):
    """CPU, and CUDA with portable numerics: deterministic algorithms, for byte-identical runs
    (on CUDA, on the same GPU model). CUDA with fast numerics: cuDNN autotuning, which is fast
    but not reproducible. The global flags are restored afterwards."""
    fast_gpu = device.type == "cuda" and effective() == "fast"
    fill = torch.utils.deterministic
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             fill.fill_uninitialized_memory)
    torch.use_deterministic_algorithms(not fast_gpu)
    torch.backends.cudnn.benchmark = fast_gpu
    # Deterministic mode also fills every new tensor with NaN before a kernel writes it (a
    # debugging aid, no effect on results): 5-15% of a CPU training step with small maps.
    fill.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.benchmark = saved[1]
        fill.fill_uninitialized_memory = saved[2]


def _autocast(device: torch.device):
    # bf16 needs no loss scaling; on CPU, and with portable numerics, autocast stays off so the
    # deterministic float32 loop is unchanged.
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" and effective() == "fast")


@torch.no_grad()
def accuracy(model: nn.Module, images: _Images, batch_size: int = 256) -> float:
    """Categorisation accuracy of ``model`` (counted on the device, synchronised once)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    order = images.order()
    for i in range(0, len(images), batch_size):
        xb, yb = images.batch(order[i:i + batch_size])
        with _autocast(images.device):
            correct += (model(xb).argmax(1) == yb).sum()
    return correct.item() / len(images)


@torch.no_grad()
def reconstruction_loss(autoencoder: Autoencoder, images: _Images, batch_size: int = 256) -> float:
    """Mean squared reconstruction error per pixel (synchronised once)."""
    autoencoder.eval()
    total = torch.zeros((), device=images.device)
    order = images.order()
    for i in range(0, len(images), batch_size):
        xb, _ = images.batch(order[i:i + batch_size])
        with _autocast(images.device):
            total += nn.functional.mse_loss(autoencoder(xb).float(), xb, reduction="sum")
    return total.item() / (len(images) * images.x[0].numel())


@torch.no_grad()
def pose_r2(model: nn.Module, images: _Images, batch_size: int = 256) -> float:
    """Coefficient of determination of the pose targets, averaged over the targets
    (1 - residual / total sum of squares; synchronised once)."""
    model.eval()
    residual = torch.zeros(len(POSE_TARGETS), device=images.device)
    order = images.order()
    for i in range(0, len(images), batch_size):
        xb, yb = images.batch(order[i:i + batch_size])
        with _autocast(images.device):
            residual += ((model(xb).float() - yb) ** 2).sum(0)
    total = ((images.y - images.y.mean(0)) ** 2).sum(0).to(residual.device)
    return (1 - residual / total).mean().item()


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _save_checkpoint(path: Path, state: dict) -> None:
    """The checkpoint and, beside it, the sha256 of its bytes (``sha256sum -c`` reads it): torch
    loads a checkpoint with a flipped byte in a tensor without complaint, as another model. The
    checksum is written first, so a checkpoint on disk always has one (a kill between the two
    leaves a checksum that matches no checkpoint: that epoch is trained again)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    with atomic_path(_checksum_path(path), suffix=".sha256") as tmp:
        tmp.write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    with atomic_path(path, suffix=".pt") as tmp:
        tmp.write_bytes(data)


def _recorded_checksum(path: Path) -> str | None:
    try:
        return _checksum_path(path).read_text().split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def _read_checkpoint(path: Path, fingerprint: str) -> dict | None:
    """A checkpoint of this very run, or None; damaged, unverifiable or foreign ones are reported."""
    try:
        data = path.read_bytes()
    except OSError as e:
        log.warning("checkpoint %s cannot be read (%s); ignoring it", path, e.strerror or e)
        return None
    recorded = _recorded_checksum(path)
    if recorded is None:
        log.warning("checkpoint %s has no checksum (%s missing or unreadable); ignoring it", path,
                    _checksum_path(path).name)
        return None
    if hashlib.sha256(data).hexdigest() != recorded:
        log.warning("checkpoint %s is corrupt or truncated (its sha256 differs from the one in %s); ignoring it",
                    path, _checksum_path(path).name)
        return None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, bad pickle...: never load silently
        log.warning("checkpoint %s is corrupt or truncated (%s); ignoring it", path, e)
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        log.warning("checkpoint %s belongs to another run configuration; ignoring it", path)
        return None
    return state


def _latest_checkpoint(ckpt_dir: Path, fingerprint: str) -> dict | None:
    """The newest readable checkpoint of this very run; unreadable ones are reported and skipped."""
    for path in sorted(ckpt_dir.glob("epoch_*.pt"), reverse=True):
        state = _read_checkpoint(path, fingerprint)
        if state is not None:
            return state
    return None


def _check_request(cfg: TrainConfig, keep_epochs) -> None:
    """Fail before loading any data on a request that cannot run (or could only run to
    nonsense: NaN weights from a NaN learning rate, a 'trained' network that never trained)."""
    if cfg.task not in TASKS:
        raise InputError(f"unknown task {cfg.task!r}; choose from {tuple(TASKS)}")
    if cfg.arch not in ARCHITECTURES:
        raise InputError(f"unknown architecture {cfg.arch!r}; choose from {sorted(ARCHITECTURES)}")
    for name, value, ok, need in (
            ("width", cfg.width, lambda v: v > 0, "a finite number > 0"),
            ("lr", cfg.lr, lambda v: v > 0, "a finite number > 0"),
            ("weight_decay", cfg.weight_decay, lambda v: v >= 0, "a finite number >= 0"),
            ("label_smoothing", cfg.label_smoothing, lambda v: 0 <= v < 1, "a number in [0, 1)"),
            ("augment_pad", cfg.augment_pad, lambda v: v >= 0 and v == int(v), "a whole number >= 0")):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and ok(value)):
            raise InputError(f"{name}: must be {need}, got {value!r}")
    if cfg.epochs < 0 or cfg.batch_size < 1:
        raise InputError(f"need epochs >= 0 and batch_size >= 1, got epochs {cfg.epochs}, "
                         f"batch_size {cfg.batch_size}")
    if cfg.seed < 0:
        raise InputError(f"seed: must be an integer >= 0, got {cfg.seed}")
    if cfg.task == "pose" and cfg.augment_pad:
        raise InputError("augment_pad: crops and flips move the object but not its pose targets; "
                         "task 'pose' trains without augmentation (augment_pad 0)")
    if cfg.task != "untrained" and cfg.epochs == 0:
        raise InputError(f"epochs: task {cfg.task!r} needs at least 1 epoch (0 epochs would save the "
                         "random initialisation as a trained network; that is task 'untrained')")
    n_epochs = 0 if cfg.task == "untrained" else cfg.epochs
    outside = [e for e in keep_epochs if not 1 <= e <= n_epochs]
    if outside:
        trained = f"epochs 1..{n_epochs}" if n_epochs else "no epochs"
        raise InputError(f"cannot keep epochs {outside}: task {cfg.task!r} trains {trained}")


def train(cfg: TrainConfig, dataset, out_dir, test_dataset=None, progress: bool = True,
          device: str = "auto", keep_epochs=()) -> dict:
    """Train (or, for task 'untrained', only initialise) a network; write weights and metrics.

    Writes ``out_dir/weights.safetensors``, ``out_dir/metrics.json``, one resume checkpoint
    per epoch in ``out_dir/checkpoints/`` and, for each epoch in ``keep_epochs``, a weights
    file ``out_dir/epochs/epoch_{E:03d}.safetensors`` with that epoch's metrics in its
    metadata. ``device``: 'auto', 'cpu' or 'cuda' (byte-identical results on CPU only).
    Returns the metrics.
    """
    keep_epochs = sorted(set(keep_epochs))
    _check_request(cfg, keep_epochs)
    dev = resolve_device(device)
    out_dir = Path(out_dir)
    _check_own_folder(out_dir)  # before any data is read: a folder of the user's files is refused
    x, y, categories = load_labelled_images(dataset)
    x_test, y_test = load_labelled_images(test_dataset)[:2] if test_dataset else (None, None)
    n_out, pose_scale = len(categories), None
    if cfg.task == "pose":
        y, y_test, pose_scale = _standardise_pose(dataset, test_dataset)
        n_out = len(POSE_TARGETS)
    if cfg.augment_pad >= min(x.shape[-2:]):
        raise InputError(f"augment_pad: {cfg.augment_pad} pixels is not less than the image side of {dataset} "
                         f"({min(x.shape[-2:])} pixels)")
    images = _Images(x, y, dev)
    test_images = _Images(x_test, y_test, dev) if test_dataset else None
    _check_writable(out_dir, keep_epochs)  # before any training, not after an epoch of it
    with _folder_lock(out_dir):
        if not (out_dir / OUTPUT_MARKER).is_file():  # from now on the folder is train's own
            (out_dir / OUTPUT_MARKER).write_text(TRAIN_MARK + "\n")
        fingerprint = _fingerprint(cfg, _data_digest(x, y, categories), dev)
        _claim_folder(out_dir, fingerprint)
        with _numerics(dev):
            torch.manual_seed(cfg.seed)
            model = build_model(cfg.arch, n_out, cfg.width)
            learner = Autoencoder(model, tuple(x.shape[-2:])) if cfg.task == "autoencoder" else model
            learner.to(dev)
            if dev.type == "cuda":
                learner.to(memory_format=torch.channels_last)
            history = _fit(cfg, learner, images, test_images, out_dir / "checkpoints", fingerprint, progress)
            metrics = {"config": asdict(cfg), "categories": categories, "history": history,
                       "device": dev.type, "numerics": effective(), **_final_scores(cfg.task, model, images, test_images),
                       "n_train": len(images), "n_test": len(test_images) if test_images else None}
            if pose_scale:
                metrics["pose_targets"] = pose_scale
            _write_kept_epochs(keep_epochs, learner, out_dir, fingerprint, cfg, categories, x.shape[-1])
        # Each replaces another run's file in one rename: the old results stay until the new exist.
        save_weights(model, out_dir / "weights.safetensors", cfg, categories, input_size=x.shape[-1], run=fingerprint)
        write_json({**metrics, "run": fingerprint}, out_dir / "metrics.json")
        _remove_stale_epochs(out_dir, fingerprint, keep_epochs)
        return metrics


def _check_writable(out_dir: Path, keep_epochs) -> None:
    """Fail before any training (not after an epoch of it) when the outputs cannot be written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    for folder in (out_dir, out_dir / "checkpoints", *[out_dir / "epochs"] * bool(keep_epochs)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise InputError(f"{folder}: cannot write the training outputs here ({e.strerror or e})") from None


@contextlib.contextmanager
def _folder_lock(out_dir: Path):
    """One training at a time per output folder: a second one is refused, not interleaved."""
    import fcntl

    path = out_dir / ".train.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise InputError(f"{out_dir}: another training (process {holder}) is writing into this "
                             f"folder; wait for it to finish (lock {path})") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run_of(path: Path) -> str | None:
    """The run fingerprint a weights file of :func:`save_weights` carries (None if none or unreadable)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return json.loads((f.metadata() or {}).get("goaldriven", "{}")).get("run")
    except Exception:
        return None


def _claim_folder(out_dir: Path, fingerprint: str) -> None:
    """Remove the resume checkpoints that are not this run's (another fingerprint: other config,
    data, seed or device; or damaged), so that none is taken for this run's. Results (weights,
    metrics, kept epochs) of another run stay until this run's replace them."""
    for path in sorted((out_dir / "checkpoints").glob("epoch_*.pt")):
        if _read_checkpoint(path, fingerprint) is None:
            log.warning("%s: not a checkpoint of this run; removing it", path)
            path.unlink()
            _checksum_path(path).unlink(missing_ok=True)


def _remove_stale_epochs(out_dir: Path, fingerprint: str, keep_epochs) -> None:
    """After this run's results are written: kept epochs of another run, or not kept by this one, go."""
    for path in sorted((out_dir / "epochs").glob("epoch_*.safetensors")):
        if _run_of(path) != fingerprint or _epoch_number(path) not in keep_epochs:
            log.warning("%s: left by another run (or not kept by this one); removing it", path)
            path.unlink()


# What train writes into its folder's OUTPUT_MARKER; the files it recognises as its own in a
# folder without one (written before the marker existed): each carries a run fingerprint.
TRAIN_MARK = "train"
_CHECKPOINT_NAME = re.compile(r"\.?epoch_\d+\.pt(\.sha256|\..+\.(pt|sha256))?")  # with checksums, temporaries


def _check_own_folder(out_dir: Path) -> None:
    """Refuse an output folder holding files train did not write: it replaces its own earlier
    output (marked by OUTPUT_MARKER, or recognised by the run fingerprint in each file), never
    a user's ``weights.safetensors``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    if not out_dir.is_dir():
        return
    marker = out_dir / OUTPUT_MARKER
    if marker.is_file():
        made_by = marker.read_text(errors="replace").strip()
        if made_by == TRAIN_MARK:
            return
        raise InputError(f"{out_dir}: the output folder was written by goaldriven {made_by}, not train; "
                         "choose another folder")
    foreign = [p for p in sorted(out_dir.iterdir()) if not _train_wrote(p)]
    if foreign:
        raise InputError(f"{out_dir}: the output folder holds files train did not write (e.g. {foreign[0].name}); "
                         "train writes into a new or empty folder or its own earlier output: remove the "
                         "folder or choose another")


def _train_wrote(path: Path) -> bool:
    """Whether ``path`` (in a model folder without a marker) is something train writes."""
    if path.name == ".train.lock":
        return path.is_file()
    if path.name == "checkpoints" and path.is_dir():
        return all(p.is_file() and _CHECKPOINT_NAME.fullmatch(p.name) and
                   (not p.name.endswith(".pt") or p.name.startswith(".") or _is_checkpoint(p)) for p in path.iterdir())
    if path.name == "epochs" and path.is_dir():
        return all(p.suffix == ".safetensors" and _run_of(p) is not None for p in path.iterdir())
    if path.name == "weights.safetensors":
        return _run_of(path) is not None
    if path.name == "metrics.json":
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(metrics, dict) and "run" in metrics
    return False


def _is_checkpoint(path: Path) -> bool:
    """A resume checkpoint of some training run (it carries a run fingerprint)."""
    try:
        return "fingerprint" in torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False


def _epoch_number(path: Path) -> int | None:
    try:
        return int(path.stem.split("_")[-1])
    except ValueError:
        return None


def _final_scores(task: str, model: nn.Module, images: _Images, test_images: _Images | None) -> dict:
    """Accuracy of the saved network as a classifier (at chance for the untrained and
    autoencoder controls, whose head is random); for 'pose', the R^2 of its regression."""
    if task == "pose":
        return {"train_accuracy": None, "test_accuracy": None, "train_r2": pose_r2(model, images),
                "test_r2": pose_r2(model, test_images) if test_images else None}
    return {"train_accuracy": accuracy(model, images),
            "test_accuracy": accuracy(model, test_images) if test_images else None}


def _fit(cfg: TrainConfig, learner: nn.Module, images: _Images, test_images: _Images | None,
         ckpt_dir: Path, fingerprint: str, progress: bool) -> list[dict]:
    """The training epochs, resumed from the newest checkpoint of this run; returns the history."""
    epochs = 0 if cfg.task == "untrained" else cfg.epochs
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    opt = torch.optim.SGD(learner.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(max(1, epochs * steps_per_epoch)))
    order_rng = torch.Generator().manual_seed(cfg.seed)
    augment = _Augment(cfg.augment_pad, cfg.seed + 1) if cfg.augment_pad else None
    history, start = [], 0
    state = _latest_checkpoint(ckpt_dir, fingerprint) if epochs else None
    if state is not None:
        learner.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        order_rng.set_state(state["order_rng"])
        if augment is not None:
            augment.generator.set_state(state["augment_rng"])
        torch.set_rng_state(state["torch_rng"])
        history, start = state["history"], state["epoch"]
        log.info("resuming %s from epoch %d", ckpt_dir.parent, start)

    bar = _progress(total=epochs * steps_per_epoch, initial=start * steps_per_epoch,
                    desc=f"{cfg.task} {cfg.arch} seed {cfg.seed}", enabled=progress)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        try:
            row = _train_epoch(cfg, learner, images, opt, sched, order_rng, augment, bar)
        except TrainingDiverged as e:
            bar.close()
            at = (f"step {e.step}/{steps_per_epoch}" if e.step is not None
                  else "its end (non-finite weights or BatchNorm statistics)")
            raise InputError(
                f"{ckpt_dir.parent}: training diverged in epoch {epoch + 1} at {at}: loss {e.loss} "
                f"(lr {cfg.lr}); no weights written, try a smaller --lr") from None
        row = {"epoch": epoch + 1, **row}
        if test_images is not None:
            row.update(_test_scores(cfg.task, learner, test_images))
        history.append(row)  # no wall time in it: metrics.json is a result, the same on every rerun
        log.info("epoch %d/%d %s in %.1f s", epoch + 1, epochs, json.dumps({k: round(v, 4) for k, v in row.items()}),
                 time.perf_counter() - t0)
        _save_checkpoint(ckpt_dir / f"epoch_{epoch + 1:03d}.pt", {
            "fingerprint": fingerprint, "epoch": epoch + 1, "model": learner.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "order_rng": order_rng.get_state(), "torch_rng": torch.get_rng_state(), "history": history,
            **({"augment_rng": augment.generator.get_state()} if augment is not None else {})})
    bar.close()
    return history


class TrainingDiverged(Exception):
    """The loss (or a weight) became NaN or infinite in an epoch: nothing of it can be trusted.
    ``_fit`` turns it into an InputError naming the epoch, step, loss and output folder."""

    def __init__(self, step, loss):
        super().__init__(step, loss)
        self.step, self.loss = step, loss


def _test_scores(task: str, learner: nn.Module, test_images: _Images) -> dict:
    if task == "autoencoder":
        return {"test_reconstruction_loss": reconstruction_loss(learner, test_images)}
    if task == "pose":
        return {"test_r2": pose_r2(learner, test_images)}
    return {"test_accuracy": accuracy(learner, test_images)}


def _train_epoch(cfg: TrainConfig, learner, images: _Images, opt, sched, order_rng, augment, bar) -> dict:
    """One pass over the shuffled (and, with ``augment``, augmented) data. Loss and accuracy
    add up on the device and are read once at the end, so a GPU never waits for the host."""
    task, batch_size = cfg.task, cfg.batch_size
    learner.train()
    dev = images.device
    total_loss = torch.zeros((), device=dev)
    correct = torch.zeros((), dtype=torch.long, device=dev)
    # The first step with a non-finite loss and that loss, kept on the device (no host sync).
    bad_step = torch.full((), -1, dtype=torch.long, device=dev)
    bad_loss = torch.zeros((), device=dev)
    order = images.order(order_rng)
    for step, i in enumerate(range(0, len(images), batch_size), 1):
        xb, yb = images.batch(order[i:i + batch_size], augment)
        with _autocast(dev):
            out = learner(xb)
        if task == "autoencoder":
            loss = nn.functional.mse_loss(out.float(), xb)
        elif task == "pose":
            loss = nn.functional.mse_loss(out.float(), yb)
        else:
            loss = nn.functional.cross_entropy(out.float(), yb, label_smoothing=cfg.label_smoothing)
            correct += (out.argmax(1) == yb).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total_loss += loss.detach() * len(xb)
        first = (bad_step < 0) & ~torch.isfinite(loss.detach())
        bad_step = torch.where(first, step, bad_step)
        bad_loss = torch.where(first, loss.detach().float(), bad_loss)
        bar.update(1)
    if bad_step.item() >= 0:
        raise TrainingDiverged(step=bad_step.item(), loss=bad_loss.item())
    # Weights and BatchNorm statistics: a running variance can overflow while the loss stays finite.
    tensors = [t for t in learner.state_dict().values() if t.is_floating_point()]
    if not torch.stack([torch.isfinite(t).all() for t in tensors]).all().item():
        raise TrainingDiverged(step=None, loss=total_loss.item() / len(images))
    if task == "autoencoder":
        return {"reconstruction_loss": total_loss.item() / len(images)}
    if task == "pose":
        return {"train_loss": total_loss.item() / len(images)}
    return {"train_loss": total_loss.item() / len(images), "train_accuracy": correct.item() / len(images)}


def _write_kept_epochs(keep_epochs, learner, out_dir: Path, fingerprint: str, cfg: TrainConfig,
                       categories, input_size: int) -> None:
    """Export the kept epochs from their resume checkpoints, so they are complete even when
    the run was resumed or its earlier outputs were deleted (as ``dvc repro`` does)."""
    if not keep_epochs:
        return
    snapshot = copy.deepcopy(learner)
    for epoch in keep_epochs:
        path = out_dir / "checkpoints" / f"epoch_{epoch:03d}.pt"
        state = _read_checkpoint(path, fingerprint) if path.exists() else None
        if state is None:
            raise InputError(f"{path}: missing or unusable, so epoch {epoch} cannot be kept; "
                             f"delete {path.parent} to train this run again from scratch")
        snapshot.load_state_dict(state["model"])
        network = snapshot.network if isinstance(snapshot, Autoencoder) else snapshot
        metrics = dict(state["history"][epoch - 1])
        save_weights(network, out_dir / "epochs" / f"epoch_{epoch:03d}.safetensors", cfg, categories,
                     input_size, epoch=epoch, metrics=metrics, run=fingerprint)


def _progress(total, initial, desc, enabled):
    from tqdm.auto import tqdm
    # disable=None: a bar on a terminal, silence in log files (epochs are logged instead).
    return tqdm(total=total, initial=initial, desc=desc, disable=None if enabled else True, leave=False)


def save_weights(model: nn.Module, path, cfg: TrainConfig, categories, input_size: int,
                 epoch: int | None = None, metrics: dict | None = None, run: str | None = None) -> None:
    """Write the network's weights as safetensors, with the run's description as metadata
    (and, for a kept epoch, that epoch's number and metrics; ``run``: the training run's
    fingerprint, which readers compare between the files of one model folder)."""
    meta = {"arch": cfg.arch, "width": repr(cfg.width), "task": cfg.task, "seed": str(cfg.seed),
            "epochs": str(cfg.epochs), "categories": ",".join(categories), "input_size": str(input_size),
            "n_out": str(model.head.out_features)}
    if epoch is not None:
        meta.update(epoch=str(epoch), metrics=json.dumps(metrics, sort_keys=True))
    if run is not None:
        meta["run"] = run
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # One metadata entry holding sorted JSON: safetensors writes a multi-key map in random
    # order, which would make identical weights differ byte for byte.
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"goaldriven": json.dumps(meta, sort_keys=True)})


def load_weights(path) -> tuple[nn.Module, dict]:
    """Rebuild a network from a weights file written by :func:`save_weights`, in eval mode."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("goaldriven", "{}"))
        state = load_file(str(path))
    except Exception as e:
        raise InputError(f"{path}: not a readable safetensors weights file ({e})") from None
    missing = {"arch", "width", "categories"} - set(meta)
    if missing:
        raise InputError(f"{path}: weights file lacks metadata {sorted(missing)}")
    # Files from before 'n_out' was recorded all have one output per category.
    n_out = int(meta.get("n_out", len(meta["categories"].split(","))))
    model = build_model(meta["arch"], n_out, float(meta["width"]))
    _check_tensors(path, state, model.state_dict(), meta)
    model.load_state_dict(state)
    return model.eval(), meta


def _check_tensors(path: Path, state: dict, expected: dict, meta: dict) -> None:
    """One line naming the file and the first bad tensor, instead of torch's page of mismatches."""
    net = f"the {meta['arch']} network of width {meta['width']}"
    missing = [k for k in expected if k not in state]
    if missing:
        raise InputError(f"{path}: lacks tensor {missing[0]!r} of {net}"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    extra = [k for k in state if k not in expected]
    if extra:
        raise InputError(f"{path}: tensor {extra[0]!r} is not part of {net}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise InputError(f"{path}: tensor {k!r} has shape {tuple(v.shape)}, {net} needs "
                             f"{tuple(expected[k].shape)}")
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise InputError(f"{path}: tensor {k!r} holds NaN or infinite values (did training diverge?)")
