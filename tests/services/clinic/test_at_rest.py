"""Encryption at rest: the probe reads the operating system's own account of the volume that
holds the clinic file, and the clinic's ``[security] disk_encryption`` decides what follows."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.config import build_catalog, read_raw_config
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.services.clinic.at_rest import (
    at_rest_notice,
    clinic_at_rest,
    volume_encryption,
)
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import Database

CLINIC = Path("/srv/clinic/clinic.sqlite")


class FakeMachine:
    """A /proc/self/mountinfo and a /sys/dev/block under ``root``, as Linux publishes them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mounts: list[str] = []
        (root / "proc/self").mkdir(parents=True)
        (root / "sys/dev/block").mkdir(parents=True)
        (root / "sys/devices").mkdir(parents=True)

    def mount(self, device: str, point: str, fstype: str, source: str) -> None:
        n = len(self.mounts) + 20
        self.mounts.append(f"{n} 1 {device} / {point} rw,relatime - {fstype} {source} rw")
        (self.root / "proc/self/mountinfo").write_text("\n".join(self.mounts) + "\n")

    def block(
        self, device: str, name: str, *, uuid: str = "", slaves: tuple[str, ...] = ()
    ) -> None:
        real = self.root / "sys/devices" / name
        real.mkdir()
        if uuid:
            (real / "dm").mkdir()
            (real / "dm/uuid").write_text(uuid + "\n")
            (real / "dm/name").write_text(name + "\n")
        (real / "slaves").mkdir()
        for lower in slaves:
            (real / "slaves" / lower).symlink_to(self.root / "sys/devices" / lower)
        (self.root / "sys/dev/block" / device).symlink_to(real)


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path / "machine")


@pytest.fixture
def linux_only() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the /proc and /sys probe is Linux's")


@pytest.mark.usefixtures("linux_only")
def test_a_luks_volume_is_encrypted(machine: FakeMachine) -> None:
    machine.block("253:0", "dm-0", uuid="CRYPT-LUKS2-0f3c-cryptroot")
    machine.mount("253:0", "/", "ext4", "/dev/mapper/cryptroot")
    found = volume_encryption(CLINIC, root=machine.root)
    assert found.encrypted is True
    assert "dm-0" in found.how


@pytest.mark.usefixtures("linux_only")
def test_lvm_on_luks_is_found_through_the_lower_devices(machine: FakeMachine) -> None:
    machine.block("8:2", "sda2")
    machine.block("253:0", "dm-0", uuid="CRYPT-LUKS2-abc-sda2_crypt", slaves=("sda2",))
    machine.block("253:1", "dm-1", uuid="LVM-Kq3-vg-root", slaves=("dm-0",))
    machine.mount("253:1", "/", "ext4", "/dev/mapper/vg-root")
    assert volume_encryption(CLINIC, root=machine.root).encrypted is True


@pytest.mark.usefixtures("linux_only")
def test_a_plain_partition_is_not_encrypted_and_the_innermost_mount_counts(
    machine: FakeMachine,
) -> None:
    machine.block("253:0", "dm-0", uuid="CRYPT-LUKS2-xyz-root")
    machine.block("8:17", "sdb1")
    machine.mount("253:0", "/", "ext4", "/dev/mapper/root")
    machine.mount("8:17", "/srv/clinic", "xfs", "/dev/sdb1")  # a second, plain disk
    found = volume_encryption(CLINIC, root=machine.root)
    assert found.encrypted is False
    assert found.how == "not encrypted: /dev/sdb1 (xfs)"
    assert volume_encryption(Path("/srv/other.sqlite"), root=machine.root).encrypted is True


@pytest.mark.usefixtures("linux_only")
def test_mount_points_with_spaces_and_memory_file_systems(machine: FakeMachine) -> None:
    machine.block("8:1", "sda1")
    machine.mount("8:1", "/", "ext4", "/dev/sda1")
    machine.mount("0:40", "/srv/front\\040desk", "tmpfs", "tmpfs")
    found = volume_encryption(Path("/srv/front desk/clinic.sqlite"), root=machine.root)
    assert found.encrypted is True
    assert "in memory" in found.how


@pytest.mark.usefixtures("linux_only")
def test_a_network_or_overlay_file_system_cannot_be_told(machine: FakeMachine) -> None:
    machine.mount("0:52", "/", "overlay", "overlay")
    found = volume_encryption(CLINIC, root=machine.root)
    assert found.encrypted is None
    assert found.how.startswith("cannot tell")
    assert "not known to be encrypted (cannot tell" in at_rest_notice(
        CLINIC, "warn", root=machine.root
    )


@pytest.mark.usefixtures("linux_only")
def test_the_policy_decides_what_an_unencrypted_disk_means(machine: FakeMachine) -> None:
    machine.block("8:1", "sda1")
    machine.mount("8:1", "/", "ext4", "/dev/sda1")
    assert at_rest_notice(CLINIC, "off", root=machine.root) == ""
    notice = at_rest_notice(CLINIC, "warn", root=machine.root)
    assert notice.startswith(f"The clinic file {CLINIC} is on a disk that is not known")
    assert "not encrypted: /dev/sda1 (ext4)" in notice


def _clinic(tmp_path: Path, policy: str) -> Iterator[Database]:
    raw = read_raw_config()
    raw = dataclasses.replace(raw, clinic={**raw.clinic, "security": {"disk_encryption": policy}})
    opened = open_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}", create=True, config=raw)
    yield opened.db
    opened.db.dispose()


@pytest.fixture
def requiring_clinic(tmp_path: Path) -> Iterator[Database]:
    yield from _clinic(tmp_path, "require")


@pytest.mark.usefixtures("linux_only")
def test_a_clinic_that_requires_encryption_is_refused_on_a_plain_disk(
    requiring_clinic: Database, machine: FakeMachine
) -> None:
    machine.block("8:1", "sda1")
    machine.mount("8:1", "/", "ext4", "/dev/sda1")
    judged = clinic_at_rest(requiring_clinic, root=machine.root)
    assert judged.policy == "require"
    assert judged.refused
    machine.block("253:0", "dm-0", uuid="CRYPT-LUKS2-1-home")
    machine.mount("253:0", "/", "ext4", "/dev/mapper/home")  # mounted on top
    assert not clinic_at_rest(requiring_clinic, root=machine.root).refused


def test_a_misspelt_policy_is_named() -> None:
    raw = read_raw_config()
    raw = dataclasses.replace(
        raw, clinic={**raw.clinic, "security": {"disk_encryption": "sometimes"}}
    )
    with pytest.raises(ConfigError, match=r"security\.disk_encryption: must be one of warn"):
        build_catalog(raw)


def test_check_reports_the_disk_as_a_warning_not_a_problem(
    requiring_clinic: Database, tmp_path: Path
) -> None:
    expected = clinic_at_rest(requiring_clinic).notice
    done = subprocess.run(
        [sys.executable, "-m", "ketadesk", "check", "--db", str(tmp_path / "clinic.sqlite")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stdout  # the data's report stays clean for scripts
    if expected:
        assert f"warning: {expected}" in done.stderr
    else:  # this machine's disk is encrypted
        assert "warning" not in done.stderr
