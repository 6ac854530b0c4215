"""Embedded HvM-style stimulus set: procedural 3D objects, ray-cast, over varied backgrounds.

Each object is a union of ellipsoid parts whose layout is fixed per category (a car is a
body, a cabin and four wheels) and whose sizes, positions and colours are drawn per object
from the seed. Images are rendered by orthographic ray casting with a z-buffer and
Lambertian shading, at the three variation levels of Majaj, Hong et al. (2015).
"""

from __future__ import annotations

import zlib

import numpy as np
import xarray as xr

from ..core.io import InputError

CATEGORIES = ("animals", "boats", "cars", "chairs", "faces", "fruits", "planes", "tables")

# Per variation level: rotation half-range (degrees), position half-range (fraction of the
# image half-width) and scale range. V0 is the canonical view.
VARIATION_RANGES = {
    0: {"rotation": 0.0, "position": 0.0, "scale": (1.0, 1.0)},
    3: {"rotation": 45.0, "position": 0.3, "scale": (0.8, 1.25)},
    6: {"rotation": 90.0, "position": 0.6, "scale": (0.625, 1.6)},
}

_L = (-0.05, 0.45, 0.06)  # leg-like part
# Category templates: (centre xyz, radii xyz, dark?) per part, in object coordinates
# (x right, y up, z towards the viewer), object roughly within the unit sphere.
TEMPLATES = {
    "animals": [((0, 0, 0), (0.7, 0.33, 0.3), 0), ((0.82, 0.32, 0), (0.26, 0.22, 0.2), 0),
                ((0.45, -0.48, 0.17), (0.07, 0.33, 0.07), 0), ((0.45, -0.48, -0.17), (0.07, 0.33, 0.07), 0),
                ((-0.45, -0.48, 0.17), (0.07, 0.33, 0.07), 0), ((-0.45, -0.48, -0.17), (0.07, 0.33, 0.07), 0),
                ((-0.85, 0.15, 0), (0.3, 0.05, 0.05), 0), ((0.88, 0.56, 0.1), (0.05, 0.12, 0.05), 1)],
    "boats": [((0, -0.25, 0), (0.95, 0.22, 0.34), 0), ((0.15, 0.1, 0), (0.35, 0.2, 0.24), 1),
              ((-0.25, 0.5, 0), (0.04, 0.6, 0.04), 1), ((-0.5, 0.45, 0), (0.28, 0.42, 0.02), 0)],
    "cars": [((0, -0.05, 0), (0.9, 0.25, 0.4), 0), ((-0.1, 0.28, 0), (0.48, 0.22, 0.34), 1),
             ((0.55, -0.3, 0.38), (0.2, 0.2, 0.07), 1), ((0.55, -0.3, -0.38), (0.2, 0.2, 0.07), 1),
             ((-0.55, -0.3, 0.38), (0.2, 0.2, 0.07), 1), ((-0.55, -0.3, -0.38), (0.2, 0.2, 0.07), 1)],
    "chairs": [((0, 0, 0), (0.45, 0.07, 0.45), 0), ((0, 0.5, -0.42), (0.45, 0.5, 0.06), 0),
               ((0.38, -0.45, 0.38), (0.05, 0.45, 0.05), 1), ((-0.38, -0.45, 0.38), (0.05, 0.45, 0.05), 1),
               ((0.38, -0.45, -0.38), (0.05, 0.45, 0.05), 1), ((-0.38, -0.45, -0.38), (0.05, 0.45, 0.05), 1)],
    "faces": [((0, 0, 0), (0.6, 0.78, 0.6), 0), ((0.22, 0.18, 0.52), (0.11, 0.07, 0.06), 1),
              ((-0.22, 0.18, 0.52), (0.11, 0.07, 0.06), 1), ((0, -0.05, 0.6), (0.08, 0.17, 0.12), 0),
              ((0, -0.38, 0.5), (0.2, 0.05, 0.06), 1), ((0.6, 0.05, 0), (0.08, 0.2, 0.12), 0),
              ((-0.6, 0.05, 0), (0.08, 0.2, 0.12), 0)],
    "fruits": [((0, 0, 0), (0.6, 0.66, 0.6), 0), ((0, 0.7, 0), (0.04, 0.18, 0.04), 1),
               ((0.17, 0.74, 0), (0.2, 0.04, 0.1), 1)],
    "planes": [((0, 0, 0), (1.0, 0.14, 0.14), 0), ((0.05, 0, 0), (0.25, 0.04, 0.95), 0),
               ((-0.85, 0.25, 0), (0.15, 0.3, 0.03), 1), ((-0.85, 0.05, 0), (0.12, 0.03, 0.35), 0)],
    "tables": [((0, 0.3, 0), (0.8, 0.06, 0.5), 0), ((0.65, -0.2, 0.38), (0.06, 0.5, 0.06), 1),
               ((-0.65, -0.2, 0.38), (0.06, 0.5, 0.06), 1), ((0.65, -0.2, -0.38), (0.06, 0.5, 0.06), 1),
               ((-0.65, -0.2, -0.38), (0.06, 0.5, 0.06), 1)],
}
_LIGHT = np.array([-0.4, 0.6, 0.7]) / np.linalg.norm([-0.4, 0.6, 0.7])
_OBJECT_RADIUS = 0.7  # of the image half-width, at scale 1


def _rot(rxy, rxz, ryz) -> np.ndarray:
    """Rotation about z (in the image plane), y and x, angles in degrees."""
    a, b, c = np.radians([rxy, rxz, ryz])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


_VIEW = _rot(0, 30, 20)  # fixed camera azimuth/elevation: V0 objects are seen in 3D


def make_object(seed: int, category: str, index: int) -> dict:
    """One object: its parts drawn from the seed alone (so every split shows the same objects)."""
    if category not in TEMPLATES:
        raise InputError(f"no 3D template for category {category!r}; choose from {sorted(TEMPLATES)}")
    rng = np.random.default_rng([seed, zlib.crc32(category.encode()), index])
    proportions = rng.uniform(0.8, 1.25, 3)
    hue = rng.uniform(0.15, 0.95, 3)
    centres, radii, colours = [], [], []
    for centre, radius, dark in TEMPLATES[category]:
        centres.append(np.array(centre) * proportions + rng.normal(0, 0.04, 3))
        radii.append(np.array(radius) * proportions * np.exp(rng.normal(0, 0.15, 3)))
        base = hue * (0.35 if dark else 1.0)
        colours.append(np.clip(base + rng.normal(0, 0.06, 3), 0.02, 1))
    centres, radii = np.array(centres), np.array(radii)
    # Normalise the object's extent so that every object fills a similar part of the image.
    extent = np.max(np.linalg.norm(centres, axis=1) + radii.max(axis=1))
    rotations = np.array([_rot(*rng.normal(0, 8, 3)) for _ in centres])
    return {"centres": centres / extent, "radii": radii / extent, "rotations": rotations,
            "colours": np.array(colours), "name": f"{category}_{index:02d}"}


def render(obj: dict, rxy=0.0, rxz=0.0, ryz=0.0, ty=0.0, tz=0.0, s=1.0, size=64,
           background=None) -> np.ndarray:
    """Ray-cast one object (orthographic, z-buffered, Lambert-shaded); uint8 (size, size, 3)."""
    n = 2 * size  # render at twice the size, then average 2x2 blocks: cheap anti-aliasing
    coords = (np.arange(n) + 0.5) / n * 2 - 1
    u, v = np.meshgrid(coords, -coords)  # x right, y up
    pose = _rot(rxy, rxz, ryz) @ _VIEW
    scale = s * _OBJECT_RADIUS
    origin = np.stack([u.ravel() - ty, v.ravel() - tz, np.zeros(n * n)], axis=1) / scale
    # Per part: world -> part-local unit-sphere coordinates, l = M (p - c'); rays along z.
    best_t = np.full(n * n, -np.inf)
    normal = np.zeros((n * n, 3))
    colour = np.zeros((n * n, 3))
    for c, r, rot, col in zip(obj["centres"], obj["radii"], obj["rotations"], obj["colours"]):
        M = (rot.T / r[:, None]) @ pose.T  # (3, 3)
        A = (origin - pose @ c) @ M.T
        B = M[:, 2]
        a, b, cc = B @ B, 2 * A @ B, np.einsum("ij,ij->i", A, A) - 1
        disc = b * b - 4 * a * cc
        hit = disc > 0
        t = np.full(n * n, -np.inf)
        t[hit] = (-b[hit] + np.sqrt(disc[hit])) / (2 * a)  # the surface nearest the viewer
        closer = t > best_t
        best_t[closer] = t[closer]
        local = A[closer] + t[closer, None] * B
        normal[closer] = local @ M  # gradient of |l|^2 with respect to the world point
        colour[closer] = col
    mask = np.isfinite(best_t)
    nrm = normal[mask] / np.linalg.norm(normal[mask], axis=1, keepdims=True)
    lambert = np.clip(nrm @ _LIGHT, 0, 1)
    specular = np.clip(nrm @ (_LIGHT + [0, 0, 1]) / np.linalg.norm(_LIGHT + [0, 0, 1]), 0, 1) ** 20
    img = np.zeros((n * n, 3)) if background is None else np.repeat(np.repeat(
        background, 2, 0), 2, 1).reshape(n * n, 3)
    img[mask] = np.clip(colour[mask] * (0.25 + 0.75 * lambert[:, None]) + 0.3 * specular[:, None], 0, 1)
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    return np.round(img * 255).astype(np.uint8)


def make_background(rng, size: int) -> np.ndarray:
    """Smooth random colour texture (bilinear up-sampling of coarse noise), values in [0, 1]."""
    from scipy.ndimage import zoom

    out = np.zeros((size, size, 3))
    for cells, amplitude in ((3, 0.5), (9, 0.2)):
        coarse = rng.uniform(0, 1, (cells, cells, 3))
        out += amplitude * zoom(coarse, (size / cells, size / cells, 1), order=1)[:size, :size]
    return np.clip(out / 0.7 * rng.uniform(0.4, 0.9) + rng.uniform(0, 0.2), 0, 1)


def _pose(rng, level: int) -> dict:
    if level not in VARIATION_RANGES:
        raise InputError(f"unknown variation level {level}; choose from {sorted(VARIATION_RANGES)}")
    v = VARIATION_RANGES[level]
    rot, pos = v["rotation"], v["position"]
    lo, hi = np.log(v["scale"][0]), np.log(v["scale"][1])
    return {"rxy": rng.uniform(-rot, rot), "rxz": rng.uniform(-rot, rot), "ryz": rng.uniform(-rot, rot),
            "ty": rng.uniform(-pos, pos), "tz": rng.uniform(-pos, pos), "s": float(np.exp(rng.uniform(lo, hi)))}


def generate_stimulus_set(seed: int, split: str, images_per_variation: dict, size: int = 64,
                          objects_per_category: int = 8, categories=CATEGORIES,
                          progress: bool = False) -> xr.DataArray:
    """Render a stimulus set; objects depend on ``seed`` only, images on ``seed`` and ``split``."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    meta, pixels = [], []
    total = len(categories) * objects_per_category * sum(images_per_variation.values())
    bar = tqdm(total=total, desc=f"render {split}", disable=None if progress else True)
    for label, category in enumerate(categories):
        for index in range(objects_per_category):
            obj = make_object(seed, category, index)
            for level, count in sorted(images_per_variation.items()):
                for _ in range(count):
                    pose = _pose(rng, level)
                    pixels.append(render(obj, size=size, background=make_background(rng, size), **pose))
                    meta.append({"category_name": category, "object_name": obj["name"], "label": label,
                                 "variation": level, **pose})
                    bar.update(1)
    bar.close()
    coords = {k: ("presentation", np.array([m[k] for m in meta])) for k in meta[0]}
    coords["stimulus_id"] = ("presentation", np.array([f"{split}-{i:05d}" for i in range(len(meta))]))
    coords["split"] = ("presentation", np.array([split] * len(meta)))
    da = xr.DataArray(np.stack(pixels), dims=("presentation", "y", "x", "channel"), coords=coords, name="pixels")
    da.attrs.update({"identifier": f"goaldriven.synthetic-hvm.seed{seed}.{split}", "seed": seed,
                     "size": size, "generator": "goaldriven.synthetic", "categories": ",".join(categories)})
    return da
