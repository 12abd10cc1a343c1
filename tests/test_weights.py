"""Pretrained weights: real downloads (from a loopback HTTP server and file:// URLs),
checksum verification, atomic writes, and the fetch_weights rule in the DAG."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest
import yaml

from helpers.workflow import REPO, run_workflow
from isicgan.config import load_config
from isicgan.weights import (
    REGISTRY,
    WeightError,
    WeightSpec,
    download,
    fetch,
    sidecar,
    spec_for,
    verify,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, several read chunks


def _spec(
    data: bytes = PAYLOAD,
    *,
    sha256: str | None = "auto",
    md5: str | None = None,
    filename: str = "net.pt",
) -> WeightSpec:
    if sha256 == "auto":
        sha256 = hashlib.sha256(data).hexdigest()
    return WeightSpec(
        key="test",
        filename=filename,
        url="http://127.0.0.1:9/none",
        sha256=sha256,
        md5=md5,
        size=None,
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path == "/truncated":  # promises the whole payload, sends a third, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """A real HTTP server on 127.0.0.1 (loopback only), serving PAYLOAD at /net.pt."""
    _Handler.files = {"/net.pt": PAYLOAD}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_download_over_http_writes_the_verified_file(server, tmp_path):
    dest = tmp_path / "w" / "net.pt"
    download(f"{server}/net.pt", dest, _spec())
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == []


def test_download_from_file_url_works_for_mirrors_on_shared_disks(tmp_path):
    src = tmp_path / "mirror" / "net.pt"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "w" / "net.pt"
    download(src.as_uri(), dest, _spec())
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    dest = tmp_path / "net.pt"
    with pytest.raises(
        WeightError, match=r"checksum mismatch.*sha256 is [0-9a-f]{64}, expected 0{64}"
    ):
        download(f"{server}/net.pt", dest, _spec(sha256="0" * 64))
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_publisher_md5_is_checked_too(server, tmp_path):
    with pytest.raises(WeightError, match="md5"):
        download(f"{server}/net.pt", tmp_path / "net.pt", _spec(md5="f" * 32))
    assert list(tmp_path.iterdir()) == []


def test_broken_transfer_leaves_no_partial_file(server, tmp_path):
    dest = tmp_path / "net.pt"
    with pytest.raises(WeightError, match="could not download"):
        download(f"{server}/truncated", dest, _spec())
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_names_the_url_and_the_file(tmp_path):
    missing = (tmp_path / "nowhere.pt").as_uri()
    with pytest.raises(WeightError, match=r"could not download file://.*nowhere\.pt to .*net\.pt"):
        download(missing, tmp_path / "net.pt", _spec())


def test_without_published_sha256_the_first_fetch_records_it_and_later_checks_use_it(
    server, tmp_path
):
    dest = tmp_path / "net.pt"
    spec = _spec(sha256=None)
    download(f"{server}/net.pt", dest, spec)
    assert sidecar(dest).read_text() == f"{hashlib.sha256(PAYLOAD).hexdigest()}  net.pt\n"
    assert verify(dest, spec) == hashlib.sha256(PAYLOAD).hexdigest()
    dest.write_bytes(PAYLOAD[:-1] + b"\x00")  # the file changes after it was recorded
    with pytest.raises(WeightError, match=r"checksum mismatch.*recorded in .*net\.pt\.sha256"):
        verify(dest, spec)


def test_hand_placed_file_is_verified_against_the_registry(tmp_path):
    dest = tmp_path / "vgg19-dcbb9e9d.pth"
    dest.write_bytes(b"not the torchvision weights")
    with pytest.raises(
        WeightError, match=r"vgg19-dcbb9e9d\.pth.*size is 27 bytes, expected 574673361"
    ):
        verify(dest)


def test_missing_weight_says_how_to_get_it_online_and_offline(tmp_path):
    with pytest.raises(WeightError, match=r"not found\. Online: .*snakemake.*offline: download"):
        verify(tmp_path / "efficientnetb5_notop.h5")


def test_fetch_keeps_a_present_verified_file_without_downloading(tmp_path):
    dest = tmp_path / "efficientnetb5_notop.h5"
    data = b"pretend keras weights"
    dest.write_bytes(data)
    spec = spec_for(dest)
    # the registry's md5 is Keras's; a stand-in file must fail it, proving it is checked
    with pytest.raises(WeightError, match="md5"):
        fetch(dest, url="http://127.0.0.1:9/unused")
    # a file matching its checksums is kept as is: no network is touched
    good = WeightSpec(
        spec.key,
        spec.filename,
        "http://127.0.0.1:9/unused",
        sha256=None,
        md5=hashlib.md5(data).hexdigest(),
    )
    assert verify(dest, good) == hashlib.sha256(data).hexdigest()


def test_unknown_weight_file_name_is_refused(tmp_path):
    with pytest.raises(WeightError, match="unknown weight file name 'model.bin'"):
        verify(tmp_path / "model.bin")


def test_registry_covers_every_weight_config_key_with_the_documented_file_names():
    config = load_config()
    assert set(REGISTRY) == set(config["weights"])
    text = (REPO / "config.yaml").read_text()
    for key, spec in REGISTRY.items():
        assert f"resources/weights/{spec.filename}" in text, key
        assert spec.url.endswith("/" + spec.filename)
        assert spec.sha256 is None or len(spec.sha256) == 64


def test_configured_weights_are_fetched_by_the_fetch_weights_rule(tmp_path):
    weights = {key: f"resources/weights/{spec.filename}" for key, spec in REGISTRY.items()}
    cfg = tmp_path / "weights.yaml"
    cfg.write_text(yaml.safe_dump({"weights": weights}))
    # a hand-placed file is used as is; the others are planned as fetch_weights jobs
    placed = tmp_path / weights["fid_inception"]
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"x")
    proc = run_workflow(tmp_path, "-n", "weights", configfiles=[cfg])
    out = proc.stdout + proc.stderr
    assert "fetch_weights" in out and "3" in out.split("fetch_weights")[1].split("\n")[0], out


def test_a_wrong_hand_placed_weight_stops_the_run_before_any_job(tmp_path):
    name = REGISTRY["keras_efficientnet_b5"].filename
    cfg = tmp_path / "weights.yaml"
    cfg.write_text(
        yaml.safe_dump({"weights": {"keras_efficientnet_b5": f"resources/weights/{name}"}})
    )
    placed = tmp_path / "resources" / "weights" / name
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"a truncated download")
    proc = run_workflow(tmp_path, "-n", configfiles=[cfg], check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert f"{name}: checksum mismatch" in out and "md5" in out, out[-3000:]


def test_verified_weight_is_not_hashed_again_until_it_changes(tmp_path):
    dest = tmp_path / "net.pt"
    dest.write_bytes(PAYLOAD)
    spec = _spec()
    assert verify(dest, spec) == spec.sha256
    stamp = dest.with_name("net.pt.verified")
    assert stamp.read_text().split()[-1] == spec.sha256
    # same size, new content and mtime: the stamp no longer matches, so the file is hashed again
    dest.write_bytes(PAYLOAD[::-1])
    os.utime(dest, ns=(1, 1))
    with pytest.raises(WeightError, match="checksum mismatch"):
        verify(dest, spec)
