"""The config contract: defaults, types, ranges and unknown keys."""

import pytest
import yaml

from helpers.workflow import REPO, TINY_CONFIG
from isicgan.config import ConfigError, load_config


def test_default_config_validates_and_fills_defaults():
    config = load_config()
    assert config["data"]["source"] == "demo"
    assert config["synthesis"]["generator"] in config["gans"]
    # a key left out of config.yaml gets its schema default
    assert load_config(overrides={"evaluation": {}})["evaluation"]["threshold"] == 0.5


def test_thesis_config_merges_over_demo_config():
    config = load_config([REPO / "config.yaml", REPO / "configs" / "thesis.yaml"])
    assert config["data"]["source"] == "isic2024"
    assert config["data"]["image_size"] == 140
    assert config["data"]["counts"]["pool"] == {"benign": 3000, "malignant": 300}
    assert config["gan"]["cyclegan"]["epochs"] == 1000
    assert config["gan"]["wgan_gp"]["epochs"] == 150
    assert config["synthesis"]["batch_size"] == 520


def test_tiny_test_config_validates():
    load_config([REPO / "config.yaml", TINY_CONFIG])


@pytest.mark.parametrize(
    "override, key",
    [
        ({"data": {"image_size": "big"}}, "data.image_size"),
        ({"data": {"imagesize": 64}}, "data.imagesize"),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction"),
        ({"data": {"source": "kaggle"}}, "data.source"),
        ({"gan": {"cyclegan": {"epochs": 0}}}, "gan.cyclegan.epochs"),
        ({"gan": {"wgan_gp": {"diffaugment": "colour"}}}, "gan.wgan_gp.diffaugment"),
        ({"gan": {"ddpm": {"beta_schedule": "cosine"}}}, "gan.ddpm.beta_schedule"),
        ({"seeds": []}, "seeds"),
        ({"typo_section": {}}, "typo_section"),
    ],
)
def test_bad_config_values_name_the_key(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=override)
    assert f"'{key}'" in str(err.value)


def test_generator_must_be_a_trained_gan():
    with pytest.raises(ConfigError, match="synthesis.generator"):
        load_config(overrides={"gans": ["dcgan"], "synthesis": {"generator": "cyclegan"}})


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config([tmp_path / "nope.yaml"])


def test_bad_config_stops_snakemake_before_any_job(workflow, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"image_size": "big"}}))
    proc = workflow("-n", configfiles=[bad], check=False)
    assert proc.returncode != 0
    assert "data.image_size" in proc.stdout + proc.stderr
