"""Encryption at rest: is the volume that holds the clinic file (or a backup) encrypted?

KetaDesk does not encrypt the SQLite file itself; it requires the operating system's full-disk
encryption (LUKS/dm-crypt, BitLocker, FileVault) and checks for it here.  docs/SECURITY.md gives
the threat model behind that choice.  The clinic's ``[security] disk_encryption`` setting says
what a missing encryption means: ``"warn"`` (the default: the window and ``ketadesk check`` say
so), ``"require"`` (the window refuses to sign in to the clinic) or ``"off"``.

The probe only reads what the operating system publishes and never needs administrator rights:
``/proc/self/mountinfo`` and ``/sys/dev/block`` on Linux, ``fdesetup isactive`` on macOS, and the
shell's BitLocker property on Windows.  When it cannot tell, it says so: "cannot tell" is
treated like "not encrypted" by ``"require"``, since the clinic must be able to show it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ketadesk.scheduling.catalog import DISK_ENCRYPTION_POLICIES
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database

__all__ = [
    "DISK_ENCRYPTION_POLICIES",
    "NOT_CHECKED",
    "AtRest",
    "ClinicAtRest",
    "at_rest_notice",
    "clinic_at_rest",
    "volume_encryption",
]

_PROC_MOUNTINFO = Path("/proc/self/mountinfo")
_SYS_BLOCK = Path("/sys/dev/block")
#: File systems that live in memory, never on a disk (their content is gone at power-off).
_IN_MEMORY = frozenset({"tmpfs", "ramfs"})
#: BitLocker protection states the Windows shell reports that mean the data is encrypted
#: (1 on, 3 encrypting, 5 on but suspended: the disk is still encrypted).
_BITLOCKER_ENCRYPTED = frozenset({"1", "3", "5"})


@dataclass(frozen=True, slots=True)
class AtRest:
    """What the probe found for one path.

    ``encrypted`` is True or False when the operating system said, None when it could not tell;
    ``how`` says it in words ("LUKS volume dm-0", "not encrypted: /dev/sda2 (ext4)").
    """

    path: Path
    encrypted: bool | None
    how: str

    @property
    def verified(self) -> bool:
        return self.encrypted is True


def volume_encryption(path: Path, *, root: Path = Path("/")) -> AtRest:
    """The encryption of the volume holding ``path`` (a file or folder; need not exist yet).

    ``root`` lets tests point the Linux probe at a fake ``/proc`` and ``/sys``.
    """
    # resolve() is not strict: a file about to be created is judged by the folders above it.
    target = Path(path).resolve()
    try:
        if sys.platform.startswith("linux"):
            return _linux(target, root)
        if sys.platform == "darwin":
            return _macos(target)
        if sys.platform == "win32":
            return _windows(target)
    except OSError as err:
        return AtRest(target, None, f"cannot tell ({err.strerror or err})")
    return AtRest(target, None, f"cannot tell on {sys.platform}")


def at_rest_notice(path: Path, policy: str, *, root: Path = Path("/")) -> str:
    """One sentence for the window and ``ketadesk check`` when ``path``'s volume is not known to
    be encrypted and the policy cares; "" when all is well or the policy is "off"."""
    if policy == "off":
        return ""
    found = volume_encryption(path, root=root)
    if found.verified:
        return ""
    return (
        f"The clinic file {path} is on a disk that is not known to be encrypted ({found.how}); "
        "patient data at rest must be protected by full-disk encryption (docs/SECURITY.md)."
    )


@dataclass(frozen=True, slots=True)
class ClinicAtRest:
    """The clinic's policy and, when it is not met, the sentence that says so."""

    policy: str
    notice: str

    @property
    def refused(self) -> bool:
        """The policy is "require" and the file is not known to be on an encrypted disk."""
        return self.policy == "require" and bool(self.notice)


#: For callers that did not ask (a sign-in screen built by hand in a test).
NOT_CHECKED = ClinicAtRest("off", "")


def clinic_at_rest(db: Database, *, root: Path = Path("/")) -> ClinicAtRest:
    """Judge the clinic file of ``db`` by the clinic's ``[security] disk_encryption``.

    A clinic on a PostgreSQL server is the server's to protect (docs/SERVER.md): no notice.
    """
    path = db.sqlite_path
    with db.read() as session:
        policy = load_catalog(session).settings.disk_encryption
    if path is None:
        return ClinicAtRest(policy, "")
    return ClinicAtRest(policy, at_rest_notice(path, policy, root=root))


# -- Linux ---------------------------------------------------------------------------------------


def _linux(path: Path, root: Path) -> AtRest:
    mount = _mount_of(path, root / _PROC_MOUNTINFO.relative_to("/"))
    if mount is None:
        return AtRest(path, None, "cannot tell (no mount found)")
    device, fstype, source = mount
    if fstype in _IN_MEMORY:
        return AtRest(path, True, f"in memory ({fstype}), never written to a disk")
    if fstype in {"ecryptfs"}:
        return AtRest(path, True, "eCryptfs folder encryption")
    block = root / _SYS_BLOCK.relative_to("/") / device
    if not block.exists():
        return AtRest(path, None, f"cannot tell ({source}, {fstype}: not a block device)")
    crypt = _crypt_layer(block, seen=set())
    if crypt is not None:
        return AtRest(path, True, f"LUKS/dm-crypt volume {crypt}")
    return AtRest(path, False, f"not encrypted: {source} ({fstype})")


def _mount_of(path: Path, mountinfo: Path) -> tuple[str, str, str] | None:
    """(major:minor, file-system type, source) of the mount that holds ``path``."""
    best: tuple[int, tuple[str, str, str]] | None = None
    resolved = str(path)
    for line in mountinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if len(fields) < dash + 3 or len(fields) < 5:
            continue
        point = _unescape(fields[4])
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            # The last of equal mount points wins: it is the one mounted on top.
            best = (len(point), (fields[2], fields[dash + 1], _unescape(fields[dash + 2])))
    return None if best is None else best[1]


def _crypt_layer(block: Path, *, seen: set[Path]) -> str | None:
    """The name of a dm-crypt device at or below ``block`` (LVM on LUKS, a partition of an
    encrypted disk...), or None."""
    block = block.resolve()
    if block in seen:
        return None
    seen.add(block)
    uuid = block / "dm" / "uuid"
    if uuid.exists() and uuid.read_text(encoding="ascii", errors="replace").startswith("CRYPT-"):
        return (block / "dm" / "name").read_text(encoding="utf-8", errors="replace").strip()
    slaves = block / "slaves"
    if slaves.is_dir():
        for lower in sorted(slaves.iterdir()):
            found = _crypt_layer(lower, seen=seen)
            if found is not None:
                return found
    return None


def _unescape(text: str) -> str:
    # mountinfo writes a space as \040, a tab as \011, a newline as \012 and a backslash as \134.
    out = text
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        out = out.replace(code, char)
    return out


# -- macOS and Windows ---------------------------------------------------------------------------


def _macos(path: Path) -> AtRest:
    done = subprocess.run(
        ["/usr/bin/fdesetup", "isactive"], capture_output=True, text=True, timeout=10, check=False
    )
    answer = done.stdout.strip()
    if answer == "true":
        return AtRest(path, True, "FileVault is on")
    if answer == "false":
        return AtRest(path, False, "FileVault is off")
    return AtRest(path, None, f"cannot tell (fdesetup said {answer or done.returncode!r})")


def _windows(path: Path) -> AtRest:
    drive = os.path.splitdrive(str(path.resolve()))[0]
    if not drive or drive.startswith("\\\\"):
        return AtRest(path, None, f"cannot tell (network location {drive or path})")
    script = (
        "(New-Object -ComObject Shell.Application).NameSpace('"
        + drive
        + "\\').Self.ExtendedProperty('System.Volume.BitLockerProtection')"
    )
    done = subprocess.run(
        ["powershell", "-NoProfile", "-NonInteractive", "-Command", script],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    state = done.stdout.strip()
    if state in _BITLOCKER_ENCRYPTED:
        return AtRest(path, True, f"BitLocker on {drive}")
    if state in {"0", "2"}:
        return AtRest(path, False, f"BitLocker is off on {drive}")
    return AtRest(path, None, f"cannot tell (BitLocker state {state or 'unknown'} on {drive})")
