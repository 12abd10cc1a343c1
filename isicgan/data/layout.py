"""The Kaggle ISIC 2024 file layout: file names, the metadata columns, and finding them."""

from __future__ import annotations

from pathlib import Path

from isicgan.data.errors import DataError

METADATA_NAME = "train-metadata.csv"
HDF5_NAME = "train-image.hdf5"
JPEG_DIR = "train-image/image"

# The 55 columns of the Kaggle ISIC 2024 train-metadata.csv, in the file's order.
METADATA_COLUMNS = [
    "isic_id",
    "target",
    "patient_id",
    "age_approx",
    "sex",
    "anatom_site_general",
    "clin_size_long_diam_mm",
    "image_type",
    "tbp_tile_type",
    "tbp_lv_A",
    "tbp_lv_Aext",
    "tbp_lv_B",
    "tbp_lv_Bext",
    "tbp_lv_C",
    "tbp_lv_Cext",
    "tbp_lv_H",
    "tbp_lv_Hext",
    "tbp_lv_L",
    "tbp_lv_Lext",
    "tbp_lv_areaMM2",
    "tbp_lv_area_perim_ratio",
    "tbp_lv_color_std_mean",
    "tbp_lv_deltaA",
    "tbp_lv_deltaB",
    "tbp_lv_deltaL",
    "tbp_lv_deltaLB",
    "tbp_lv_deltaLBnorm",
    "tbp_lv_eccentricity",
    "tbp_lv_location",
    "tbp_lv_location_simple",
    "tbp_lv_minorAxisMM",
    "tbp_lv_nevi_confidence",
    "tbp_lv_norm_border",
    "tbp_lv_norm_color",
    "tbp_lv_perimeterMM",
    "tbp_lv_radial_color_std_max",
    "tbp_lv_stdL",
    "tbp_lv_stdLExt",
    "tbp_lv_symm_2axis",
    "tbp_lv_symm_2axis_angle",
    "tbp_lv_x",
    "tbp_lv_y",
    "tbp_lv_z",
    "attribution",
    "copyright_license",
    "lesion_id",
    "iddx_full",
    "iddx_1",
    "iddx_2",
    "iddx_3",
    "iddx_4",
    "iddx_5",
    "mel_mitotic_index",
    "mel_thick_mm",
    "tbp_lv_dnn_lesion_confidence",
]


def locate_raw(raw_dir: str | Path) -> dict[str, str]:
    """``{"metadata": csv, "images": hdf5 file or jpeg folder}`` inside ``raw_dir``.

    The HDF5 store wins when both exist. Raises :class:`DataError` naming what is missing.
    """
    raw = Path(raw_dir)
    hint = (
        "download the Kaggle ISIC 2024 data (kaggle competitions download -c "
        "isic-2024-challenge, or `snakemake download`) and unzip it there, or set "
        "data.source: demo"
    )
    if not raw.is_dir():
        raise DataError(f"config key 'data.raw_dir': folder '{raw}' does not exist; {hint}")
    csv = raw / METADATA_NAME
    if not csv.is_file():
        raise DataError(f"metadata file '{csv}' is missing (data.raw_dir = '{raw}'); {hint}")
    if (raw / HDF5_NAME).is_file():
        images = raw / HDF5_NAME
    elif (raw / JPEG_DIR).is_dir():
        images = raw / JPEG_DIR
    else:
        raise DataError(
            f"no image store in '{raw}': expected '{raw / HDF5_NAME}' or the folder "
            f"'{raw / JPEG_DIR}' of <isic_id>.jpg files; {hint}"
        )
    return {"metadata": str(csv), "images": str(images)}
