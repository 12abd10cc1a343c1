"""The model registries: one module per model is all the workflow needs to know of it.

Protects: what the workflow reads from a model's source without importing it equals the
imported class; the schema, wildcard constraints and rules take their model names from the
modules; adding a toy generator and a toy classifier touches only their modules and config.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from helpers.workflow import SNAKEMAKE, TINY_CONFIG, copy_workflow
from isicgan import registry
from isicgan.config import ConfigError, load_config


@pytest.mark.parametrize("family", list(registry.FAMILIES))
def test_what_is_read_from_the_source_equals_the_imported_class(family):
    for name, spec in registry.specs(family).items():
        cls = registry.load_class(family, name)
        for attr in registry.STATIC:
            if attr in spec.attrs or hasattr(cls, attr):
                assert spec[attr] == getattr(cls, attr), f"{name}.{attr}"


def test_thesis_models_are_found_in_thesis_order():
    assert registry.names("generators")[:3] == ["cyclegan", "wgan_gp", "dcgan"]
    assert registry.names("classifiers")[:6] == [
        "logreg",
        "svm",
        "rf",
        "cnn",
        "inception_v3",
        "efficientnet_b5",
    ]
    assert registry.spec("generators", "cyclegan")["translates"]
    assert not registry.spec("generators", "dcgan")["translates"]
    assert registry.spec("classifiers", "inception_v3")["uses_features"]
    assert not registry.spec("classifiers", "cnn")["uses_features"]


def test_schema_takes_model_names_and_settings_from_the_modules():
    with pytest.raises(ConfigError, match="gans.0"):
        load_config(overrides={"gans": ["stylegan9"]})
    with pytest.raises(ConfigError, match="gan.dcgan.latent_dim"):
        load_config(overrides={"gan": {"dcgan": {"latent_dim": 0}}})
    with pytest.raises(ConfigError, match="classifiers.rf.n_estimators"):
        load_config(overrides={"classifiers": {"rf": {"n_estimators": "many"}}})
    config = load_config()
    # shared generator keys come from $defs/generator_common, backbone weights from the modules
    assert config["gan"]["dcgan"]["checkpoint_every"] == 20
    assert {"keras_inception_v3", "keras_efficientnet_b5"} <= set(config["weights"])


def test_a_model_attribute_the_workflow_reads_must_be_a_literal(tmp_path, monkeypatch):
    src = copy_workflow(tmp_path / "src")
    module = src / "isicgan" / "gan" / "models" / "bad.py"
    module.write_text(
        "from isicgan.gan.base import GANModel\nNAME = 'bad'\n\n\n"
        "class Bad(GANModel):\n    name = NAME\n"
    )
    with pytest.raises(
        ValueError, match="bad.py: class Bad: class attribute name must be a literal"
    ):
        registry._specs("generators", str(src / "isicgan"))


TOY_GAN = '''
"""A toy generator: one linear layer each way (the registry test adds it)."""
import torch.nn.functional as F
from torch import nn

from isicgan.gan.base import GANModel


class ToyGAN(GANModel):
    name = "toygan"
    config_schema = """
      latent_dim: {$ref: "#/$defs/posint", default: 8}
    """
    loss_names = ("loss_D", "loss_G")

    def build(self, training):
        s = self.image_size
        self.nets["G"] = nn.Sequential(nn.Linear(self.config["latent_dim"], 3 * s * s), nn.Tanh(),
                                       nn.Unflatten(1, (3, s, s)))
        if training:
            self.nets["D"] = nn.Sequential(nn.Flatten(), nn.Linear(3 * s * s, 1))

    def optimize_parameters(self):
        G, D = self.nets["G"], self.nets["D"]
        real = self.batch["real"]
        fake = G(self.noise(len(real), self.rng).to(self.device))
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        self.step_optimizer("D", loss_d)
        loss_g = F.softplus(-D(fake)).mean()
        self.step_optimizer("G", loss_g)
        return {"loss_D": loss_d.detach(), "loss_G": loss_g.detach()}
'''

TOY_CLASSIFIER = '''
"""A toy classifier: Gaussian naive Bayes on pixels (the registry test adds it)."""
from isicgan.classify.classifiers.base import SklearnClassifier


class ToyClassifier(SklearnClassifier):
    name = "toyclf"
    display_name = "Toy Naive Bayes"
    config_schema = """
      var_smoothing: {type: number, exclusiveMinimum: 0, default: 1.0e-9}
    """

    def make(self, seed):
        from sklearn.naive_bayes import GaussianNB

        return GaussianNB(var_smoothing=self.params["var_smoothing"])
'''

USE_TOYS = """
import numpy as np
from isicgan.classify.classifiers import make_classifier
from isicgan.config import load_config
from isicgan.gan import generate, train_gan
from isicgan.gan.train import GanOutputs
from isicgan.specs import GanRun
from isicgan.io import save_png

config = load_config(["config.yaml", "toy.yaml"])
rng = np.random.default_rng(0)
for i in range(12):
    save_png(f"train/1/m{i:02d}.png", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
train_gan(GanRun("toygan", 1, config["gan"]["toygan"], 16, device="cpu"), "train",
          GanOutputs.in_folder("out"), progress=False)
images = generate("out/final.pt", 5, seed=1)
assert images.shape == (5, 16, 16, 3) and images.dtype == np.uint8
x = rng.integers(0, 255, (20, 8, 8, 3), dtype=np.uint8)
y = np.array([0, 1] * 10)
clf = make_classifier("toyclf", config["classifiers"]["toyclf"])
scores = clf.fit_predict(25, clf.prepare(x), y, np.ones(20), {"t": clf.prepare(x)})["t"]
assert scores.shape == (20,) and ((scores >= 0) & (scores <= 1)).all()
print("toys ok")
"""


@pytest.mark.slow
def test_adding_a_toy_generator_and_classifier_touches_only_their_module_and_config(tmp_path):
    src = copy_workflow(tmp_path / "src")
    (src / "isicgan" / "gan" / "models" / "toygan.py").write_text(TOY_GAN)
    (src / "isicgan" / "classify" / "classifiers" / "toyclf.py").write_text(TOY_CLASSIFIER)
    base = yaml.safe_load((src / "config.yaml").read_text())
    toy = {
        "gans": base["gans"] + ["toygan"],
        "gan": {
            "toygan": {"epochs": 2, "batch_size": 4, "checkpoint_every": 1, "sample_epochs": [-1]}
        },
        "classifiers": {"names": base["classifiers"]["names"] + ["toyclf"], "toyclf": {}},
    }
    (src / "toy.yaml").write_text(yaml.safe_dump(toy))

    # the workflow plans the toy generator's training and batches, and the toy classifier
    work = tmp_path / "work"
    proc = subprocess.run(
        [
            str(SNAKEMAKE),
            "-s",
            str(src / "Snakefile"),
            "--configfile",
            str(src / "config.yaml"),
            str(TINY_CONFIG),
            str(src / "toy.yaml"),
            "--directory",
            str(work),
            "--cores",
            "1",
            "-n",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "gan=toygan" in out and "clf=toyclf" in out
    stats = dict(
        line.split()[:2]
        for line in out.split("Job stats:")[1].split("total")[0].splitlines()[3:]
        if line.strip()
    )
    tiny = yaml.safe_load(TINY_CONFIG.read_text())
    runs = (len(base["gans"]) + 1) * tiny["gan"].get("replicates", 1)  # + toygan, per replicate
    assert int(stats["train_gan"]) == runs and int(stats["classify"]) == 7
    assert int(stats["synthesize"]) == runs  # one job per replicate, all its batches

    # and the package trains, samples and fits them through the same entry points
    (src / "train" / "1").mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(USE_TOYS)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    assert done.returncode == 0 and "toys ok" in done.stdout, done.stderr[-3000:]
