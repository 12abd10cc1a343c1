"""A throwaway single-node SLURM cluster built from Debian's packages, for tests.

Debian 12 ships SLURM 22.05 and MUNGE; CI machines run the tests as root with no
systemd, so the daemons are started by hand, in the foreground, each as a child
process whose PID we hold, and stopped by that PID. Nothing under /etc is
written: the daemons and the clients read a private ``slurm.conf`` (``-f`` and
``SLURM_CONF``) and a private MUNGE key and socket (``AuthInfo=socket=``).

The node declares more CPUs and memory than the machine has
(``SlurmdParameters=config_overrides``), so a profile's real per-rule requests
(``mem_mb``, ``cpus_per_task``) are submitted unchanged and still fit.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client"]
BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "srun"]


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (the reason is the message)."""


def why_not_runnable() -> str | None:
    """The reason a test cluster cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "the SLURM test needs root (it installs Debian packages and runs slurmd)"
    if all(shutil.which(b) for b in BINARIES):
        return None
    if not shutil.which("apt-get"):
        return "SLURM is not installed and there is no apt-get to install it"
    return None


def ensure_packages(timeout: int = 600) -> None:
    """Install munge and SLURM with apt-get when a binary is missing (seconds when cached)."""
    if all(shutil.which(b) for b in BINARIES):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *PACKAGES]
    proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=timeout)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"apt-get install {' '.join(PACKAGES)} failed:\n{proc.stderr[-3000:]}")
    missing = [b for b in BINARIES if not shutil.which(b)]
    if missing:
        raise RuntimeError(f"after apt-get install, still missing: {', '.join(missing)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SingleNodeSlurm:
    """munged + slurmctld + slurmd on 127.0.0.1, configured under ``root``.

    Use as a context manager; :meth:`stop` kills exactly the processes it started.
    """

    # srun inside a job reads the default config path: the Snakemake job step drops
    # SLURM_CONF from the environment of the srun it starts.
    SYSTEM_CONF = Path("/etc/slurm/slurm.conf")

    def __init__(self, root: Path, cpus: int = 16, mem_mb: int = 256_000) -> None:
        self.root = Path(root)
        self.cpus = cpus
        self.mem_mb = mem_mb
        self.host = socket.gethostname().split(".")[0]
        self.procs: dict[str, subprocess.Popen] = {}
        self.conf = self.root / "isicgan-test-slurm.conf"
        # MUNGE insists that its socket and key live in folders that only its user
        # can write; pytest's tmp folders are root's 0700, so use one of its own.
        self.munge_dir = Path(tempfile.mkdtemp(prefix="isicgan-munge-"))
        self.munge_socket = self.munge_dir / "munge.socket"
        self.linked_system_conf = False

    # --- environment for clients (sbatch, squeue, snakemake) --------------------------
    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def __enter__(self) -> SingleNodeSlurm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- start -------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._start_munge()
        self._write_conf()
        self._link_system_conf()
        for d in ("state", "spool"):
            (self.root / d).mkdir(exist_ok=True)
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._wait(
            lambda: self._ok(["scontrol", "ping"]) and "UP" in self._out(["scontrol", "ping"]),
            timeout,
            "slurmctld to answer scontrol ping",
        )
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.host])
        self._wait(
            lambda: self._node_state() in {"idle", "mixed", "allocated"},
            timeout,
            "the node to become idle",
        )

    def _start_munge(self) -> None:
        munge = pwd.getpwnam("munge")
        key = self.munge_dir / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        os.chmod(self.munge_dir, 0o755)
        os.chmod(key, 0o600)
        for p in (self.munge_dir, key):
            os.chown(p, munge.pw_uid, munge.pw_gid)
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={self.munge_dir / 'munged.pid'}",
                f"--log-file={self.munge_dir / 'munged.log'}",
                f"--seed-file={self.munge_dir / 'munged.seed'}",
            ],
            user=munge.pw_uid,
            group=munge.pw_gid,
        )
        self._wait(self.munge_socket.exists, 20, "munged to open its socket")

    def _write_conf(self) -> None:
        r = self.root
        lines = {
            "ClusterName": "isicgantest",
            "SlurmctldHost": f"{self.host}(127.0.0.1)",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "AuthType": "auth/munge",
            "CredType": "cred/munge",
            "AuthInfo": f"socket={self.munge_socket}",
            "StateSaveLocation": r / "state",
            "SlurmdSpoolDir": r / "spool",
            "SlurmctldPidFile": r / "slurmctld.pid",
            "SlurmdPidFile": r / "slurmd.pid",
            "SlurmctldLogFile": r / "slurmctld.log",
            "SlurmdLogFile": r / "slurmd.log",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core",
            "SlurmdParameters": "config_overrides",
            "ReturnToService": 2,
            "MpiDefault": "none",
            "SchedulerType": "sched/backfill",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            # squeue keeps finished jobs this long; the Snakemake plugin polls squeue
            # (no slurmdbd here) and needs MinJobAge > 3 x its first poll interval.
            "MinJobAge": 600,
            "SlurmctldTimeout": 30,
            "SlurmdTimeout": 30,
            "InactiveLimit": 0,
            "KillWait": 5,
            "Waittime": 0,
        }
        text = "".join(f"{k}={v}\n" for k, v in lines.items())
        text += (
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.mem_mb} State=UNKNOWN\n"
        )
        text += "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
        self.conf.write_text(text)

    def _link_system_conf(self) -> None:
        """Point /etc/slurm/slurm.conf at our config; refuse to replace a real one."""
        target = self.SYSTEM_CONF
        if target.is_symlink() and "isicgan" in os.readlink(target):
            target.unlink()  # left behind by an earlier test run that was killed
        if target.exists() or target.is_symlink():
            raise ClusterUnavailable(
                f"{target} already exists (a real SLURM set-up?); the test does not overwrite it"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(self.conf)
        self.linked_system_conf = True

    # --- stop --------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel leftover jobs, then stop slurmd, slurmctld, munged by their PIDs."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(
                ["scancel", "--full", "--user", "root"],
                env=self.env,
                capture_output=True,
                timeout=20,
            )
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.munge_dir, ignore_errors=True)
        if self.linked_system_conf:
            self.SYSTEM_CONF.unlink(missing_ok=True)
            self.linked_system_conf = False

    # --- helpers -----------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], **kwargs) -> None:
        # the child keeps its own descriptor: ours is closed at once (no ResourceWarning)
        with open(self.root / f"{name}.stdout", "w") as log:
            self.procs[name] = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                **kwargs,
            )

    def _ok(self, cmd: list[str]) -> bool:
        return subprocess.run(cmd, env=self.env, capture_output=True, timeout=20).returncode == 0

    def _out(self, cmd: list[str]) -> str:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=20).stdout

    def _node_state(self) -> str:
        return self._out(["sinfo", "-h", "-n", self.host, "-o", "%t"]).strip().rstrip("*~#$@+")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode} while waiting for {what}:\n"
                        + self.logs()
                    )
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}:\n" + self.logs())

    def logs(self, tail: int = 3000) -> str:
        out = []
        for f in (
            sorted(self.root.glob("*.log"))
            + sorted(self.root.glob("*.stdout"))
            + sorted(self.munge_dir.glob("*.log"))
        ):
            out.append(f"--- {f.name}\n{f.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)
