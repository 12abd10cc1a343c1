"""Synthetic demo data: a small data set in exactly the Kaggle ISIC 2024 layout.

``make_demo_data`` writes, into one folder,

* ``train-metadata.csv``: the 55 real columns in the real order
  (:data:`isicgan.data.layout.METADATA_COLUMNS`), one row per tile, sorted by ``isic_id``;
* ``train-image.hdf5``: one scalar fixed-length bytes dataset (``|S<n>``) per ``isic_id``
  holding the JPEG, as in the Kaggle file;
* ``train-image/image/<isic_id>.jpg``: the same JPEG bytes as files.

The tiles imitate the 3D-TBP close-ups: a square of skin (tone, low-frequency blotches,
fine grain, a few hairs, slight blur) with one pigmented lesion near the centre, 60-240 px.
Each lesion has an atypia score, drawn from Beta(1.5, 6) for benign and Beta(5, 2) for
malignant tiles, that moves it from a textbook naevus (small, round, smooth-edged, one brown)
towards the ABCD signs of melanoma: Asymmetric (low-order shape harmonics, off-centre dark
mass), irregular Border (high-order harmonics), several Colours (dark brown, black, blue-grey,
red) and a larger Diameter. The classes overlap (atypical naevi, early melanomas), so the task
is real and learnable but not trivial. Each patient has one skin tone and
several lesions; about one tile in ten is malignant.

Each patient belongs to one of five institutions (the ``attribution`` column, by patient).
One of them, :data:`SHIFTED_ATTRIBUTION`, photographs with another device
(:func:`acquisition_shift`: a cooler, darker colour balance and a soft blur), so that a test set
held out by institution (``data.external_test``) is harder in a way one can see.

Everything is drawn from ``numpy`` generators seeded by ``seed`` (one child seed per tile),
so the same settings give byte-identical files. This is synthetic demo data, never patient data.
"""

from __future__ import annotations

import io
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from isicgan.data.layout import METADATA_COLUMNS
from isicgan.io import atomic_path

log = logging.getLogger(__name__)

TILE_MM = 15.0  # field of view of a tile; real close-ups are about 15 mm wide
MIN_SIZE, MAX_SIZE = 60, 240

SKIN_TONES = np.array(
    [  # RGB: light, light-warm, medium, tan, brown, reddish
        [228, 196, 176],
        [222, 182, 158],
        [204, 156, 126],
        [180, 126, 96],
        [146, 98, 72],
        [214, 160, 140],
    ],
    dtype=np.float32,
)
BENIGN_BROWNS = np.array(
    [[150, 95, 65], [125, 78, 52], [170, 115, 80], [110, 72, 55]], dtype=np.float32
)
MALIGNANT_COLOURS = np.array(
    [  # dark brown, black, blue-grey, red, light brown
        [85, 50, 35],
        [35, 25, 25],
        [110, 110, 130],
        [150, 70, 65],
        [150, 100, 70],
    ],
    dtype=np.float32,
)

SITES = {  # anatom_site_general -> (tbp_lv_location, tbp_lv_location_simple) choices
    "posterior torso": [
        ("Torso Back Top Third", "Torso Back"),
        ("Torso Back Middle Third", "Torso Back"),
    ],
    "anterior torso": [
        ("Torso Front Top Half", "Torso Front"),
        ("Torso Front Bottom Half", "Torso Front"),
    ],
    "lower extremity": [("Left Leg - Upper", "Left Leg"), ("Right Leg - Lower", "Right Leg")],
    "upper extremity": [("Left Arm - Upper", "Left Arm"), ("Right Arm - Lower", "Right Arm")],
    "head/neck": [("Head & Neck", "Head & Neck")],
}
SITE_P = [0.35, 0.2, 0.25, 0.15, 0.05]
ATTRIBUTIONS = [
    "Memorial Sloan Kettering Cancer Center",
    "FNQH Cairns",
    "Frazer Institute, The University of Queensland, Dermatology Research Centre",
    "Department of Dermatology, Hospital Clinic de Barcelona",
    "ACEMID MIA",
]
#: the institution whose tiles carry an acquisition shift (config.yaml holds it out)
SHIFTED_ATTRIBUTION = "Department of Dermatology, Hospital Clinic de Barcelona"
#: its device's colour balance (R, G, B gains): cooler and about a fifth darker
SHIFT_GAINS = np.array([0.74, 0.86, 1.04], dtype=np.float32)
MALIGNANT_DX = [  # (iddx_full, iddx_2, iddx_3), the three malignant families of ISIC 2024
    (
        "Malignant::Malignant melanocytic proliferations (Melanoma)::Melanoma Invasive",
        "Malignant melanocytic proliferations (Melanoma)",
        "Melanoma Invasive",
    ),
    (
        "Malignant::Malignant melanocytic proliferations (Melanoma)::Melanoma in situ",
        "Malignant melanocytic proliferations (Melanoma)",
        "Melanoma in situ",
    ),
    (
        "Malignant::Malignant adnexal epithelial proliferations - Follicular::Basal cell carcinoma",
        "Malignant adnexal epithelial proliferations - Follicular",
        "Basal cell carcinoma",
    ),
    (
        "Malignant::Malignant epidermal proliferations::Squamous cell carcinoma in situ",
        "Malignant epidermal proliferations",
        "Squamous cell carcinoma in situ",
    ),
]


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1]: a cells x cells random grid, bicubically upscaled."""
    grid = Image.fromarray(rng.random((cells, cells), dtype=np.float32), mode="F")
    return np.clip(np.asarray(grid.resize((size, size), Image.BICUBIC)), 0.0, 1.0)


def make_tile(
    rng: np.random.Generator, malignant: bool, skin: np.ndarray, size: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Draw one size x size RGB tile; return it with the lesion's measurements (for metadata).

    Skin and lesion are drawn at half resolution and upscaled (real tiles are soft, upscaled
    crops of a 3D body photograph), then grain and hairs are added at full resolution.
    """
    s = size
    w = max(24, s // 2)  # working resolution
    # skin: patient tone, soft blotches, reddish patches, pore-scale texture
    tone = skin * rng.uniform(0.94, 1.06, 3).astype(np.float32)
    img = tone * (0.93 + 0.14 * _noise(rng, w, 4))[..., None]
    img *= (0.97 + 0.06 * _noise(rng, w, max(4, w // 5)))[..., None]
    red = _noise(rng, w, 7)
    img += (np.clip(red - 0.6, 0, None) * 45)[..., None] * np.array([0.5, -0.5, -0.4], np.float32)

    # lesion: polar shape around a centre near the middle (coordinates in working pixels)
    cy, cx = (w / 2) * (1 + rng.uniform(-0.12, 0.12, 2))
    dy = (np.arange(w, dtype=np.float32) - cy)[:, None]
    dx = (np.arange(w, dtype=np.float32) - cx)[None, :]
    rot = rng.uniform(0, np.pi)
    # atypia: 0 = a textbook benign naevus, 1 = a textbook melanoma. The classes overlap
    # (atypical naevi, early melanomas), so the task is learnable but not trivial.
    atypia = float(rng.beta(5.0, 2.0) if malignant else rng.beta(1.5, 6.0))

    def lerp(benign_like: float, malignant_like: float) -> float:
        return benign_like + (malignant_like - benign_like) * atypia

    # A: elongated and lopsided (low harmonics), B: ragged border, D: larger
    r0 = w * rng.uniform(lerp(0.06, 0.13), lerp(0.16, 0.26))
    harmonics = [
        (1, atypia * rng.uniform(0.12, 0.25)),
        (2, rng.uniform(lerp(0.0, 0.08), lerp(0.05, 0.2))),
        (3, rng.uniform(lerp(0.0, 0.04), lerp(0.03, 0.1))),
    ]
    elong = rng.uniform(lerp(0.8, 0.6), lerp(1.0, 0.95))
    edge = rng.uniform(lerp(0.10, 0.02), lerp(0.2, 0.05))
    ragged = rng.uniform(lerp(0.0, 0.25), lerp(0.05, 0.4))
    c, sn = np.float32(np.cos(rot)), np.float32(np.sin(rot))
    u, v = dx * c + dy * sn, (dy * c - dx * sn) / np.float32(elong)
    rho = np.sqrt(u * u + v * v) + np.float32(1e-3)
    z = (u + 1j * v).astype(np.complex64) / rho  # e^{i theta}
    shape = np.ones((w, w), np.float32)
    zk = np.ones((w, w), np.complex64)
    for k in range(1, 4):
        zk = zk * z
        amp = dict(harmonics).get(k, 0.0)
        if amp:
            phase = np.complex64(np.exp(-1j * rng.uniform(0, 2 * np.pi)))
            shape += np.float32(amp) * (zk * phase).real
    rnorm = rho / (np.float32(r0) * shape) + ragged * (_noise(rng, w, 13) - 0.5)
    alpha = 1.0 / (1.0 + np.exp((rnorm - 1.0) / np.float32(edge)))

    n_col = 1 + int(atypia * rng.uniform(2.0, 5.0))  # C: 1 colour (benign-like) .. 5
    if n_col > 1:  # several colours, patchy, with an off-centre darker mass
        cols = MALIGNANT_COLOURS[
            rng.choice(len(MALIGNANT_COLOURS), min(n_col, len(MALIGNANT_COLOURS)), replace=False)
        ]
        wts = np.stack([_noise(rng, w, 4) for _ in range(len(cols))], axis=-1) ** 4
        wts /= wts.sum(axis=-1, keepdims=True) + 1e-6
        lesion = wts @ cols
        ox, oy = rng.uniform(-0.5, 0.5, 2) * r0
        dark = np.exp(-((dx - ox) ** 2 + (dy - oy) ** 2) / np.float32(2 * (0.45 * r0) ** 2))
        lesion *= (1 - 0.35 * dark)[..., None]
    else:  # one brown, a little darker in the middle
        cols = BENIGN_BROWNS[rng.integers(len(BENIGN_BROWNS))][None] * np.float32(
            rng.uniform(0.9, 1.1)
        )
        lesion = cols[0] * (1 - 0.15 * np.clip(1 - rnorm, 0, 1))[..., None]
    strength = rng.uniform(lerp(0.45, 0.8), lerp(0.85, 0.95))
    a = (alpha * np.float32(strength))[..., None]
    img = img * (1 - a) + lesion * a + rng.normal(0.0, 3.0, (w, w, 1)).astype(np.float32)  # grain
    tile = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB").resize(
        (s, s), Image.BICUBIC
    )

    # full resolution: thin dark hairs on top, slightly softened
    n_hair = int(rng.poisson(2.5 if rng.random() < 0.6 else 0.3))
    if n_hair:
        mask = Image.new("L", (s, s), 0)
        draw = ImageDraw.Draw(mask)
        t = np.linspace(0, 1, 24)[:, None]
        for _ in range(n_hair):
            p = rng.uniform(-0.2 * s, 1.2 * s, (3, 2))
            pts = (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]
            draw.line([tuple(q) for q in pts.tolist()], fill=int(rng.integers(150, 240)), width=1)
        mask = mask.filter(ImageFilter.BoxBlur(0.6))
        tile = Image.composite(Image.new("RGB", (s, s), (45, 32, 28)), tile, mask)

    mm_per_px = TILE_MM / w
    measures = {
        "diameter_mm": float(
            2 * r0 / elong**0.5 * (1 + sum(a_ for _, a_ in harmonics) + ragged / 2) * mm_per_px
        ),
        "area_mm2": float(alpha.sum()) * mm_per_px**2,
        "eccentricity": float(np.sqrt(max(0.0, 1 - elong**2))),
        "irregularity": float(ragged),
        "asymmetry": float(sum(a_ for k, a_ in harmonics if k <= 2)),
        "n_colours": float(len(cols)),
    }
    return np.asarray(tile), measures


def attribution_of(patient: int) -> str:
    """The institution of demo patient number ``patient`` (every fifth patient per institution)."""
    return ATTRIBUTIONS[patient % len(ATTRIBUTIONS)]


def acquisition_shift(tile: np.ndarray) -> np.ndarray:
    """The tile as :data:`SHIFTED_ATTRIBUTION`'s device takes it: a soft blur (about 1 px at
    110 px), then a cooler, darker colour balance (:data:`SHIFT_GAINS`)."""
    radius = max(0.8, tile.shape[0] / 110)
    soft = np.asarray(
        Image.fromarray(tile, mode="RGB").filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32
    )
    return np.clip(np.rint(soft * SHIFT_GAINS), 0, 255).astype(np.uint8)


def encode_jpeg(tile: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(tile, mode="RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _assign_patients(
    rng: np.random.Generator, n_patients: int, n_benign: int, n_malignant: int
) -> tuple[np.ndarray, np.ndarray]:
    """Patient index per benign tile and per malignant tile: several lesions per patient."""
    weights = rng.lognormal(0.0, 0.8, n_patients)
    weights /= weights.sum()
    ben = np.concatenate(
        [
            np.arange(min(n_patients, n_benign)),  # each patient has a benign tile
            rng.choice(n_patients, max(0, n_benign - n_patients), p=weights),
        ]
    )
    n_mal_pat = max(1, min(n_patients, int(np.ceil(n_malignant / 1.4))))
    mal_pat = rng.choice(n_patients, n_mal_pat, replace=False)
    mal = np.concatenate(
        [
            mal_pat[: min(n_mal_pat, n_malignant)],  # 1-3 malignant each
            rng.choice(mal_pat, max(0, n_malignant - n_mal_pat)),
        ]
    )
    return ben.astype(np.int64), mal.astype(np.int64)


def _metadata(
    rng: np.random.Generator,
    ids: list[str],
    patients: np.ndarray,
    target: np.ndarray,
    patient_ids: list[str],
    ages: np.ndarray,
    sexes: np.ndarray,
    measures: list[dict[str, float]],
) -> pd.DataFrame:
    """The 55 Kaggle columns, with values in realistic ranges (lesion ones from the drawing)."""
    n = len(ids)
    m = pd.DataFrame(measures)
    mal = target == 1
    site_idx = rng.choice(len(SITES), n, p=SITE_P)
    site_names = list(SITES)
    sites = [site_names[i] for i in site_idx]
    loc_pick = [SITES[s][int(rng.integers(len(SITES[s])))] for s in sites]
    lab = {
        k: rng.normal(mu, sd, n)
        for k, mu, sd in [
            ("A", 20, 4),
            ("B", 28, 4),
            ("L", 45, 10),
            ("Aext", 15, 4),
            ("Bext", 25, 4),
            ("Lext", 55, 8),
        ]
    }
    cols: dict[str, Any] = {
        "isic_id": ids,
        "target": target.astype(int),
        "patient_id": [patient_ids[p] for p in patients],
        "age_approx": ages[patients],
        "sex": sexes[patients],
        "anatom_site_general": sites,
        "clin_size_long_diam_mm": np.round(m["diameter_mm"].to_numpy(), 2),
        "image_type": "TBP tile: close-up",
        "tbp_tile_type": np.where(rng.random(n) < 0.7, "3D: XP", "3D: white"),
        "tbp_lv_A": lab["A"],
        "tbp_lv_Aext": lab["Aext"],
        "tbp_lv_B": lab["B"],
        "tbp_lv_Bext": lab["Bext"],
        "tbp_lv_C": np.hypot(lab["A"], lab["B"]),
        "tbp_lv_Cext": np.hypot(lab["Aext"], lab["Bext"]),
        "tbp_lv_H": np.degrees(np.arctan2(lab["B"], lab["A"])),
        "tbp_lv_Hext": np.degrees(np.arctan2(lab["Bext"], lab["Aext"])),
        "tbp_lv_L": lab["L"],
        "tbp_lv_Lext": lab["Lext"],
        "tbp_lv_areaMM2": m["area_mm2"].to_numpy(),
        "tbp_lv_area_perim_ratio": 15 + 20 * m["irregularity"].to_numpy() + rng.normal(0, 2, n),
        "tbp_lv_color_std_mean": np.abs(rng.normal(0.5, 0.3, n)) * m["n_colours"].to_numpy(),
        "tbp_lv_deltaA": lab["A"] - lab["Aext"],
        "tbp_lv_deltaB": lab["B"] - lab["Bext"],
        "tbp_lv_deltaL": lab["L"] - lab["Lext"],
        "tbp_lv_deltaLB": np.hypot(lab["L"] - lab["Lext"], lab["B"] - lab["Bext"]),
        "tbp_lv_deltaLBnorm": np.abs(rng.normal(7, 2, n)),
        "tbp_lv_eccentricity": m["eccentricity"].to_numpy(),
        "tbp_lv_location": [p[0] for p in loc_pick],
        "tbp_lv_location_simple": [p[1] for p in loc_pick],
        "tbp_lv_minorAxisMM": m["diameter_mm"].to_numpy()
        * np.sqrt(1 - m["eccentricity"].to_numpy() ** 2)
        * 0.8,
        "tbp_lv_nevi_confidence": np.where(mal, rng.uniform(0, 40, n), rng.uniform(0, 100, n)),
        "tbp_lv_norm_border": np.clip(
            3 + 30 * m["irregularity"].to_numpy() + rng.normal(0, 1, n), 0, 10
        ),
        "tbp_lv_norm_color": np.clip(m["n_colours"].to_numpy() + rng.normal(0, 0.5, n), 0, 10),
        "tbp_lv_perimeterMM": np.pi
        * m["diameter_mm"].to_numpy()
        * (1 + m["irregularity"].to_numpy()),
        "tbp_lv_radial_color_std_max": np.abs(rng.normal(0.4, 0.3, n)),
        "tbp_lv_stdL": np.abs(rng.normal(1.5, 0.6, n)),
        "tbp_lv_stdLExt": lab["Lext"],
        "tbp_lv_symm_2axis": np.clip(
            0.2 + m["asymmetry"].to_numpy() + rng.normal(0, 0.05, n), 0, 1
        ),
        "tbp_lv_symm_2axis_angle": rng.choice(np.arange(0, 180, 5), n),
        "tbp_lv_x": rng.normal(0, 150, n),
        "tbp_lv_y": rng.uniform(100, 1600, n),
        "tbp_lv_z": rng.normal(0, 80, n),
        "attribution": [attribution_of(p) for p in patients],
        "copyright_license": np.where(rng.random(n) < 0.8, "CC-BY", "CC-BY-NC"),
    }
    dx = rng.integers(len(MALIGNANT_DX), size=n)
    lesion_num = rng.choice(9_000_000, n, replace=False) + 1_000_000
    has_lesion_id = mal | (rng.random(n) < 0.05)
    cols |= {
        "lesion_id": np.where(has_lesion_id, [f"IL_{k:07d}" for k in lesion_num], None),
        "iddx_full": np.where(mal, [MALIGNANT_DX[i][0] for i in dx], "Benign"),
        "iddx_1": np.where(mal, "Malignant", "Benign"),
        "iddx_2": np.where(mal, [MALIGNANT_DX[i][1] for i in dx], None),
        "iddx_3": np.where(mal, [MALIGNANT_DX[i][2] for i in dx], None),
        "iddx_4": None,
        "iddx_5": None,
        "mel_mitotic_index": np.where(
            mal & (dx == 0), rng.choice(["<1/mm^2", "1/mm^2", "2/mm^2"], n), None
        ),
        "mel_thick_mm": np.where(mal & (dx == 0), np.round(rng.uniform(0.2, 2.0, n), 2), np.nan),
        "tbp_lv_dnn_lesion_confidence": rng.uniform(50, 100, n),
    }
    frame = pd.DataFrame(cols)
    floats = frame.select_dtypes("float").columns.difference(
        ["age_approx", "clin_size_long_diam_mm", "mel_thick_mm"]
    )
    frame[floats] = frame[floats].round(6)
    return frame[METADATA_COLUMNS]


def make_demo_data(
    out_dir: str | Path, n_patients: int, n_benign: int, n_malignant: int, seed: int
) -> pd.DataFrame:
    """Write the synthetic demo data set into ``out_dir`` (Kaggle layout); return its metadata."""
    out_dir = Path(out_dir)
    for name, value in [
        ("n_patients", n_patients),
        ("n_benign", n_benign),
        ("n_malignant", n_malignant),
    ]:
        if int(value) < 1:
            raise ValueError(f"config key 'data.demo.{name}' must be at least 1, got {value}")
    rng = np.random.default_rng(seed)
    ben_pat, mal_pat = _assign_patients(rng, n_patients, n_benign, n_malignant)
    patients = np.concatenate([ben_pat, mal_pat])
    target = np.concatenate([np.zeros(n_benign, np.int8), np.ones(n_malignant, np.int8)])
    n = len(patients)
    id_nums = rng.choice(9_000_000, n, replace=False) + 1_000_000
    order = np.argsort(id_nums)  # rows sorted by isic_id, as in the Kaggle file
    patients, target, id_nums = patients[order], target[order], id_nums[order]
    ids = [f"ISIC_{k:07d}" for k in id_nums]
    pat_nums = rng.choice(9_000_000, n_patients, replace=False) + 1_000_000
    patient_ids = [f"IP_{k:07d}" for k in pat_nums]
    ages = rng.choice(np.arange(20.0, 90.0, 5.0), n_patients)
    sexes = rng.choice(np.array(["male", "female"], dtype=object), n_patients)
    skins = SKIN_TONES[rng.choice(len(SKIN_TONES), n_patients)]
    sizes = np.clip(rng.normal(130, 35, n), MIN_SIZE, MAX_SIZE).astype(int)
    tile_seeds = np.random.SeedSequence(seed).spawn(n)

    log.info(
        "drawing %d synthetic demo tiles (%d malignant) for %d patients into %s",
        n,
        int(target.sum()),
        n_patients,
        out_dir,
    )
    jpegs, measures = [], []
    for i in range(n):
        tile, meas = make_tile(
            np.random.default_rng(tile_seeds[i]), bool(target[i]), skins[patients[i]], int(sizes[i])
        )
        if attribution_of(int(patients[i])) == SHIFTED_ATTRIBUTION:
            tile = acquisition_shift(tile)
        jpegs.append(encode_jpeg(tile))
        measures.append(meas)
    meta = _metadata(rng, ids, patients, target, patient_ids, ages, sexes, measures)

    with ExitStack() as stack:
        csv_tmp = stack.enter_context(atomic_path(out_dir / "train-metadata.csv"))
        h5_tmp = stack.enter_context(atomic_path(out_dir / "train-image.hdf5"))
        jpg_tmp = stack.enter_context(atomic_path(out_dir / "train-image"))
        (jpg_tmp / "image").mkdir(parents=True)
        # fixed creation settings (no timestamps) so the file is byte-identical on a rerun
        with h5py.File(h5_tmp, "w", track_order=False) as h5:
            for isic_id, data in zip(ids, jpegs):
                h5.create_dataset(isic_id, data=np.bytes_(data))
                (jpg_tmp / "image" / f"{isic_id}.jpg").write_bytes(data)
        meta.to_csv(csv_tmp, index=False, lineterminator="\n")
    log.info("wrote %s", out_dir)
    return meta
