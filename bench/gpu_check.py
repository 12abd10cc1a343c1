"""The GPU check in one go (run by bench/gpu_check.sh; docs/gpu.md says how to read it).

Calls the package directly (no Snakemake, no TensorFlow): the environment, a check that the
device computes what the CPU computes, the thesis CycleGAN slice without and with bf16 mixed
precision, the thesis DDPM slice, its sampling speed, and the thesis-scale projections (the
slice and projection code of bench/gan.py). ``GPU_CHECK_DEVICE=cpu`` runs the same sections
at tiny sizes on the CPU (tests/test_gpu_check.py), so the script cannot rot.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
if os.environ.get("GPU_CHECK_SITE"):  # wheels gpu_check.sh installed: after our own packages
    sys.path.append(os.environ["GPU_CHECK_SITE"])

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEVICE = os.environ.get("GPU_CHECK_DEVICE", "cuda")
LIMIT = float(os.environ.get("GPU_CHECK_LIMIT", "540"))  # seconds for all sections
TINY = DEVICE == "cpu"
#: per section: the sizes it runs at (GPU: the thesis's; CPU mode: tiny, a smoke test)
SIZES = {
    "check": {"size": 32 if TINY else 64, "batch": 2 if TINY else 4},
    "cyclegan": {"steps": 1 if TINY else 50, "size": 32 if TINY else 0, "batch": 2 if TINY else 0},
    "ddpm": {
        "steps": 1 if TINY else 30,
        "size": 32 if TINY else 0,
        "batch": 1 if TINY else 0,
        "sample_n": 1 if TINY else 64,
    },
}
#: CUDA vs CPU, fp32 with TF32 off: generator outputs (in [-1, 1]) and losses
FORWARD_TOL = 1e-4
LOSS_RTOL = 1e-4
START = time.perf_counter()
failures: list[str] = []


def section(name: str) -> None:
    print(f"\n== {name} [{time.perf_counter() - START:.0f} s]", flush=True)


def time_left(name: str, need: float) -> bool:
    left = LIMIT - (time.perf_counter() - START)
    if left < need:
        print(
            f"SKIP {name}: {left:.0f} s left of GPU_CHECK_LIMIT={LIMIT:.0f}, it needs about "
            f"{need:.0f}",
            flush=True,
        )
        return False
    return True


def environment() -> bool:
    """Print the machine; False when the device is not there."""
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, numpy "
        f"{np.__version__}, host {platform.node()}, {os.cpu_count()} CPU cores"
    )
    if DEVICE.startswith("cuda"):
        if not torch.cuda.is_available():
            print("FAIL environment: GPU_CHECK_DEVICE=cuda but torch sees no CUDA device")
            failures.append("no CUDA device")
            return False
        props = torch.cuda.get_device_properties(0)
        print(
            f"device {props.name}, {props.total_memory / 2**30:.1f} GiB, "
            f"{props.multi_processor_count} SMs, CUDA {torch.version.cuda}, cuDNN "
            f"{torch.backends.cudnn.version()}, bf16 {torch.cuda.is_bf16_supported()}"
        )
    else:
        print("device cpu (GPU_CHECK_DEVICE=cpu: tiny sizes, a smoke test of this script)")
    try:
        diffusers = importlib.metadata.version("diffusers")
    except importlib.metadata.PackageNotFoundError:
        diffusers = "missing: the DDPM sections are skipped"
    print(f"diffusers {diffusers}", flush=True)
    return True


def generate(model, inputs: torch.Tensor) -> torch.Tensor:
    """The model's evaluation forward pass (public name after issue 19, private before)."""
    fn = getattr(model, "generate_eval", None) or model._eval_generate
    return fn(inputs)


def cuda_matches_cpu() -> None:
    """Thesis CycleGAN, same weights and same input on the CPU and the device, fp32 (bf16 and
    TF32 off): one evaluation forward pass and one training step (losses and weights)."""
    from gan import THESIS, load_config, tiles, to_float  # bench/gan.py  # lazy: after sys.path

    from isicgan.gan import build_model

    config = load_config(THESIS)
    cfg = config["gan"]["cyclegan"]
    size, batch = SIZES["check"]["size"], SIZES["check"]["batch"]
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        cpu = build_model("cyclegan", cfg, size, device="cpu")
        dev = build_model("cyclegan", cfg, size, device=DEVICE)
        dev.load_state_dict(cpu.state_dict(full=True))
        dev.amp = False
        rng = np.random.default_rng(7)
        a, b = tiles(batch, size, rng), tiles(batch, size, rng)
        forward = (generate(cpu, torch.from_numpy(a)) - generate(dev, torch.from_numpy(a))).abs()
        cpu.batch = {"A": to_float(torch.from_numpy(a)), "B": to_float(torch.from_numpy(b))}
        dev.batch = {k: v.to(dev.device) for k, v in cpu.batch.items()}
        loss_cpu, loss_dev = cpu.optimize_parameters(), dev.optimize_parameters()
        loss_diff = max(
            abs(float(loss_cpu[k]) - float(loss_dev[k])) / max(abs(float(loss_cpu[k])), 1e-8)
            for k in loss_cpu
        )
        weight_diff, moved = 0.0, 0
        for name, net in cpu.nets.items():
            theirs = dict(dev.nets[name].named_parameters())
            for pname, p in net.named_parameters():
                d = (p.detach() - theirs[pname].detach().cpu()).abs()
                weight_diff = max(weight_diff, float(d.max()))
                moved += int((d > 1e-6).sum())
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    # Adam's first step moves each weight by about lr whatever the gradient's size, so a
    # weight whose gradient is near zero may move either way: 2 lr bounds that difference
    weight_tol = 2 * float(cfg["lr"]) + 1e-6
    checks = [
        ("forward max|diff|", float(forward.max()), FORWARD_TOL),
        ("training-step loss max rel diff", loss_diff, LOSS_RTOL),
        ("weights after the step max|diff|", weight_diff, weight_tol),
    ]
    print(
        f"thesis CycleGAN, {size} px, batch {batch}, fp32 (TF32 off), {DEVICE} vs cpu; "
        f"{moved} weights differ by more than 1e-6 after the step"
    )
    for what, value, tol in checks:
        ok = value <= tol
        print(f"{'PASS' if ok else 'FAIL'} {what} {value:.3g} (tolerance {tol:.3g})", flush=True)
        if not ok:
            failures.append(f"cuda_vs_cpu {what}")


def cyclegan_slices() -> None:
    from gan import thesis_projection  # bench/gan.py  # lazy: after sys.path

    s = SIZES["cyclegan"]
    for amp in (False, True):
        if not DEVICE.startswith("cuda") and amp:
            print("SKIP CycleGAN with bf16 autocast: CUDA only")
            continue
        label = "bf16 autocast" if amp else "fp32"
        print(f"CycleGAN thesis slice, {label}:", flush=True)
        thesis_projection(s["steps"], DEVICE, size=s["size"], batch=s["batch"], amp=amp)


def ddpm_slice() -> None:
    if importlib.util.find_spec("diffusers") is None:
        print(
            "SKIP DDPM slice and sampling: diffusers is not installed (bench/gpu_wheels.sh "
            "fetches wheels that gpu_check.sh installs)"
        )
        return
    from gan import ddpm_projection  # bench/gan.py  # lazy: after sys.path

    s = SIZES["ddpm"]
    ddpm_projection(s["steps"], DEVICE, batch=s["batch"], sample_n=s["sample_n"], size=s["size"])


def main() -> int:
    print(f"gpu_check: device {DEVICE}, limit {LIMIT:.0f} s", flush=True)
    section("environment")
    if not environment():
        return 1
    torch.manual_seed(0)
    if TINY:
        torch.set_num_threads(1)  # a shared CPU: threads that wait on each other cost most
        import gan  # bench/gan.py  # lazy: after sys.path

        gan.THESIS = [*gan.THESIS, REPO / "bench" / "gpu_check_tiny.yaml"]
        print(f"CPU mode: thesis presets shrunk by {gan.THESIS[-1].relative_to(REPO)}")
    steps = [
        ("cuda_vs_cpu", cuda_matches_cpu, 60),
        ("cyclegan", cyclegan_slices, 60),
        ("ddpm", ddpm_slice, 120),
    ]
    for name, fn, need in steps:
        section(name)
        if not time_left(name, 5 if TINY else need):
            continue
        try:
            fn()
        except Exception:  # noqa: BLE001 - one broken section must not hide the others
            traceback.print_exc(file=sys.stdout)
            print(f"FAIL {name}: raised (traceback above)", flush=True)
            failures.append(name)
    section("summary")
    loaded = [m for m in ("tensorflow", "keras", "snakemake") if m in sys.modules]
    print(
        "not imported: tensorflow, keras, snakemake"
        if not loaded
        else f"FAIL imported {', '.join(loaded)}"
    )
    if loaded:
        failures.append("imports")
    print(
        f"gpu_check {'FAIL: ' + '; '.join(failures) if failures else 'PASS'} in "
        f"{time.perf_counter() - START:.0f} s",
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
