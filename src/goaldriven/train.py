"""Goal-driven training: categorisation (the goal) or untrained random weights (the control).

Deterministic on CPU for a given machine and thread count; resumable from per-epoch
checkpoints, which carry a fingerprint of everything that defines the run so that a
checkpoint of a different run (other epochs, data, seed...) is never picked up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .io import InputError, atomic_path, file_md5, write_json
from .models import build_model

log = logging.getLogger(__name__)

TASKS = ("supervised", "untrained")


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    seed: int
    epochs: int
    task: str = "supervised"
    width: float = 1.0
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4


def load_labelled_images(path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images as a normalised float tensor (N, 3, H, W), integer labels and class names."""
    from .stimuli import load_stimulus_set

    da = load_stimulus_set(path)
    categories = da.attrs["categories"].split(",")
    labels = np.asarray(da["label"].values, dtype=np.int64)
    if len(labels) == 0:
        raise InputError(f"{path}: the stimulus set is empty")
    if len(np.unique(labels)) < 2:
        raise InputError(f"{path}: needs at least two categories to train a categorisation task")
    x = torch.from_numpy(np.ascontiguousarray(da.values)).permute(0, 3, 1, 2)
    return normalise(x), torch.from_numpy(labels), categories


def normalise(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float in roughly [-2, 2]; the one preprocessing of every stage."""
    return (x_uint8.float() / 255.0 - 0.5) / 0.25


def _fingerprint(cfg: TrainConfig, data_md5: str) -> str:
    return hashlib.sha256(json.dumps([asdict(cfg), data_md5], sort_keys=True).encode()).hexdigest()


def _lr_lambda(total_steps: int):
    # Linear warm-up then cosine decay: stable for BatchNorm nets at a high learning rate.
    warm = max(1, total_steps // 20)
    return lambda step: (step + 1) / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / len(x)


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def _latest_checkpoint(ckpt_dir: Path, fingerprint: str) -> dict | None:
    """The newest readable checkpoint of this very run; unreadable ones are reported and skipped."""
    for path in sorted(ckpt_dir.glob("epoch_*.pt"), reverse=True):
        try:
            state = torch.load(path, weights_only=True)
        except Exception as e:  # truncated zip, bad pickle...: never load silently
            log.warning("checkpoint %s is corrupt or truncated (%s); ignoring it", path, e)
            continue
        if state.get("fingerprint") != fingerprint:
            log.warning("checkpoint %s belongs to another run configuration; ignoring it", path)
            continue
        return state
    return None


def train(cfg: TrainConfig, dataset, out_dir, test_dataset=None, progress: bool = True) -> dict:
    """Train (or, for task 'untrained', only initialise) a network; write weights and metrics.

    Writes ``out_dir/weights.safetensors``, ``out_dir/metrics.json`` and one checkpoint per
    epoch in ``out_dir/checkpoints/``. Returns the metrics.
    """
    if cfg.task not in TASKS:
        raise ValueError(f"unknown task {cfg.task!r}; choose from {TASKS}")
    out_dir = Path(out_dir)
    x, y, categories = load_labelled_images(dataset)
    x_test, y_test = (load_labelled_images(test_dataset)[:2] if test_dataset else (None, None))
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    model = build_model(cfg.arch, len(categories), cfg.width)
    epochs = cfg.epochs if cfg.task == "supervised" else 0
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(max(1, epochs * steps_per_epoch)))
    order_rng = torch.Generator().manual_seed(cfg.seed)
    fingerprint = _fingerprint(cfg, file_md5(dataset))
    ckpt_dir = out_dir / "checkpoints"
    history, start = [], 0
    state = _latest_checkpoint(ckpt_dir, fingerprint) if epochs else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        order_rng.set_state(state["order_rng"])
        torch.set_rng_state(state["torch_rng"])
        history, start = state["history"], state["epoch"]
        log.info("resuming %s from epoch %d", out_dir, start)

    loss_fn = nn.CrossEntropyLoss()
    bar = _progress(total=epochs * steps_per_epoch, initial=start * steps_per_epoch,
                    desc=f"train {cfg.arch} seed {cfg.seed}", enabled=progress)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(x), generator=order_rng)
        total_loss = torch.zeros(())
        correct = torch.zeros((), dtype=torch.long)
        for i in range(0, len(x), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            logits = model(x[idx])
            loss = loss_fn(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.detach() * len(idx)
            correct += (logits.argmax(1) == y[idx]).sum()
            bar.update(1)
        row = {"epoch": epoch + 1, "train_loss": total_loss.item() / len(x),
               "train_accuracy": correct.item() / len(x), "seconds": time.perf_counter() - t0}
        if x_test is not None:
            row["test_accuracy"] = accuracy(model, x_test, y_test)
        history.append(row)
        log.info("epoch %d/%d %s", epoch + 1, epochs, json.dumps({k: round(v, 4) for k, v in row.items()}))
        _save_checkpoint(ckpt_dir / f"epoch_{epoch + 1:03d}.pt", {
            "fingerprint": fingerprint, "epoch": epoch + 1, "model": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "order_rng": order_rng.get_state(), "torch_rng": torch.get_rng_state(), "history": history})
    bar.close()

    metrics = {"config": asdict(cfg), "categories": categories, "history": history,
               "train_accuracy": accuracy(model, x, y),
               "test_accuracy": accuracy(model, x_test, y_test) if x_test is not None else None,
               "n_train": len(x), "n_test": None if x_test is None else len(x_test)}
    save_weights(model, out_dir / "weights.safetensors", cfg, categories, input_size=x.shape[-1])
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def _progress(total, initial, desc, enabled):
    from tqdm.auto import tqdm
    # disable=None: a bar on a terminal, silence in log files (epochs are logged instead).
    return tqdm(total=total, initial=initial, desc=desc, disable=None if enabled else True, leave=False)


def save_weights(model: nn.Module, path, cfg: TrainConfig, categories, input_size: int) -> None:
    meta = {"arch": cfg.arch, "width": repr(cfg.width), "task": cfg.task, "seed": str(cfg.seed),
            "epochs": str(cfg.epochs), "categories": ",".join(categories), "input_size": str(input_size)}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
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
    model = build_model(meta["arch"], len(meta["categories"].split(",")), float(meta["width"]))
    model.load_state_dict(state)
    return model.eval(), meta
