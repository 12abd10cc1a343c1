"""Local GPU assignment: concurrent GPU jobs get different cards, SLURM's choice is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from isicgan.devices import gpu_slot


@pytest.fixture(autouse=True)
def no_preset_gpus(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_concurrent_jobs_get_different_cards_and_a_third_waits(tmp_path):
    with gpu_slot(1, tmp_path, total=2) as first:
        assert os.environ["CUDA_VISIBLE_DEVICES"] == first[0]
        # another job (a separate process, as Snakemake runs them) gets the other card
        code = (
            "from isicgan.devices import gpu_slot\n"
            f"with gpu_slot(1, {str(tmp_path)!r}, total=2) as ids: print(ids[0])"
        )
        env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
        other = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        assert other.stdout.strip() != first[0]
        del os.environ["CUDA_VISIBLE_DEVICES"]  # as seen by a fresh job process
        with gpu_slot(1, tmp_path, total=2) as second:
            assert second != first
            del os.environ["CUDA_VISIBLE_DEVICES"]
            with pytest.raises(TimeoutError, match="no 1 free GPU"):
                with gpu_slot(1, tmp_path, total=2, timeout=0.2, poll=0.05):
                    pass
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    with gpu_slot(2, tmp_path, total=2) as both:  # all cards are free again
        assert both == ["0", "1"]


def test_slurm_or_user_assignment_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with gpu_slot(1, tmp_path, total=8) as ids:
        assert ids == ["3"]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"


def test_no_gpu_means_cpu_and_no_lock(tmp_path):
    with gpu_slot(1, tmp_path / "locks", total=0) as ids:
        assert ids == []
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert not (tmp_path / "locks").exists()


def test_asking_for_more_cards_than_exist_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="asks for 3 GPUs but this machine has 2"):
        with gpu_slot(3, tmp_path, total=2):
            pass
