"""GAN building blocks: gradient penalty, DiffAugment, perceptual loss, network sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isicgan.config import load_config
from isicgan.gan import build_model
from isicgan.gan.diffaugment import diff_augment, parse_policy
from isicgan.gan.models.wgan_gp import gradient_penalty
from isicgan.gan.perceptual import PerceptualStatLoss, vgg19_features

torch.set_num_threads(1)


def test_gradient_penalty_equals_hand_computed_value_on_linear_critic():
    # f(x) = w.x + b has gradient w everywhere, so GP = (||w|| - 1)^2 whatever the interpolates
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.full((1, 48), 0.5))  # ||w|| = 0.5 * sqrt(48)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(1))
    expected = (0.5 * 48**0.5 - 1.0) ** 2
    assert gp.item() == pytest.approx(expected, rel=1e-6)


def test_gradient_penalty_uses_per_sample_interpolates_on_quadratic_critic():
    # f(x) = 0.5 ||x||^2 has gradient x, so GP = mean_i (||a_i r_i + (1-a_i) f_i|| - 1)^2
    class Quadratic(nn.Module):
        def forward(self, x):
            return 0.5 * x.flatten(1).pow(2).sum(1)

    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    gp = gradient_penalty(Quadratic(), real, fake, torch.Generator().manual_seed(7))
    alpha = torch.rand(4, 1, 1, 1, generator=torch.Generator().manual_seed(7))
    x_hat = alpha * real + (1 - alpha) * fake
    expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-6)
    # and it is differentiable for the critic update
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    gradient_penalty(lin, real, fake, torch.Generator().manual_seed(7)).backward()
    assert lin[1].weight.grad is not None and lin[1].weight.grad.abs().sum() > 0


def test_diffaugment_is_differentiable_in_the_image():
    x = torch.randn(2, 3, 8, 8, dtype=torch.double, requires_grad=True)

    def aug(t):  # the same draws at every call, as gradcheck needs
        return diff_augment(t, "color,translation,cutout", torch.Generator().manual_seed(3))

    assert torch.autograd.gradcheck(aug, (x,), eps=1e-6, atol=1e-5)
    y = aug(x)
    assert y.shape == x.shape and not torch.equal(y, x)


def test_diffaugment_draws_come_from_the_given_generator():
    x = torch.randn(4, 3, 16, 16)
    a = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(5))
    b = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(5))
    c = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(diff_augment(x, "", torch.Generator()), x)
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'flip'"):
        parse_policy("color,flip")


def test_cutout_zeroes_a_half_side_square_inside_every_image():
    x = torch.rand(6, 3, 16, 16) + 0.5  # no zeros before
    y = diff_augment(x, "cutout", torch.Generator().manual_seed(0))
    zeros = (y == 0).all(dim=1).flatten(1).sum(1)
    assert torch.equal(zeros, torch.full((6,), 64))


def _tiny_vgg19_file(path, last_layer: int = 26):
    torch.manual_seed(0)
    feats = vgg19_features(last_layer)
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    return path


def test_perceptual_loss_matches_batch_statistics_from_a_local_vgg19_file(tmp_path):
    weights = _tiny_vgg19_file(tmp_path / "vgg19_local.pth", last_layer=8)
    loss = PerceptualStatLoss(weights, layers=(3, 8))
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    assert loss(real, real).item() == pytest.approx(0.0, abs=1e-6)
    # statistics, not pairs: the same images in another order give the same loss
    assert loss(real.flip(0), real).item() == pytest.approx(0.0, abs=1e-6)
    fake = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    value = loss(fake, real)
    value.backward()
    assert value.item() > 0 and fake.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss.features.parameters())


def test_vgg19_feature_layout_matches_torchvision():
    from torchvision.models import vgg19

    with torch.device("meta"):
        ours, theirs = vgg19_features(26), vgg19(weights=None).features[:27]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    assert [type(m) for m in ours] == [type(m) for m in theirs]


def test_perceptual_loss_names_a_missing_or_wrong_weight_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights.vgg19"):
        PerceptualStatLoss(tmp_path / "absent.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="wrong.pth lacks"):
        PerceptualStatLoss(tmp_path / "wrong.pth")


@pytest.mark.parametrize(
    "gan,preset",
    [
        ("cyclegan", "resnet"),
        ("cyclegan", "thesis"),
        ("wgan_gp", "latent"),
        ("wgan_gp", "thesis"),
        ("dcgan", None),
    ],
)
def test_networks_build_at_thesis_and_test_sizes(gan, preset):
    cfg = load_config()["gan"][gan]
    cfg.update(ngf=4, ndf=4)
    if preset:
        cfg["preset"] = preset
    for size in (16, 140):
        model = build_model(gan, cfg, size)
        inputs = (
            torch.zeros(2, 3, size, size)
            if gan == "cyclegan"
            else model.noise(2, torch.Generator().manual_seed(0))
        )
        with torch.no_grad():
            out = model.generate_batch(inputs)
            assert out.shape == (2, 3, size, size)
            for name, net in model.nets.items():
                if name.startswith("D"):
                    assert torch.isfinite(net(out)).all()


def test_wgan_gp_critic_has_no_batch_norm_and_is_spectrally_normalised():
    cfg = load_config()["gan"]["wgan_gp"]
    model = build_model("wgan_gp", cfg, 32)
    critic = model.nets["D"]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(
        hasattr(m, "parametrizations") and "weight" in m.parametrizations for m in convs
    )
