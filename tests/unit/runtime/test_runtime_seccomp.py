"""Docker-format seccomp profiles to OCI: arch filtering, capability includes/excludes, caching."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import InvalidArgument
from wharf.runtime.capabilities import DEFAULT_CAPABILITIES
from wharf.runtime.seccomp import (
    BUILTIN_PROFILE,
    NATIVE_TO_SCMP,
    SYSTEM_PROFILE,
    default_profile,
    load_profile,
    native_arch,
    parse_kernel_version,
    parse_profile,
    to_oci,
)

DEFAULT = tuple(DEFAULT_CAPABILITIES)
WITH_ADMIN = (*DEFAULT, "CAP_SYS_ADMIN")

SAMPLE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {
            "architecture": "SCMP_ARCH_X86_64",
            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        },
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["cacheflush"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {
            "names": ["mount"],
            "action": "SCMP_ACT_ERRNO",
            "errno": "EPERM",
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}},
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
        },
    ],
}


def names(oci: dict[str, object] | None, action: str = "SCMP_ACT_ALLOW") -> set[str]:
    assert oci is not None
    rules = oci["syscalls"]
    assert isinstance(rules, list)
    return {n for r in rules if r["action"] == action for n in r["names"]}


def convert(caps: tuple[str, ...] = DEFAULT, **kw: object) -> dict[str, object]:
    profile = parse_profile(json.dumps(SAMPLE))
    out = to_oci(profile, caps, arch=kw.get("arch", "amd64"), kernel=kw.get("kernel", (6, 1)))  # type: ignore[arg-type]
    assert out is not None
    return out


def test_host_arch_and_its_sub_architectures_only() -> None:
    out = convert()
    assert out["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert "arch_prctl" in names(out) and "cacheflush" not in names(out)
    arm = convert(arch="arm64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "cacheflush" in names(arm) and "arch_prctl" not in names(arm)


def test_capability_includes_and_excludes() -> None:
    plain = convert()
    assert "mount" not in names(plain) and "mount" in names(plain, "SCMP_ACT_ERRNO")
    errno_rule = next(r for r in plain["syscalls"] if r["names"] == ["mount"])  # type: ignore[attr-defined]
    assert errno_rule["errnoRet"] == 1  # "EPERM" by name
    admin = convert(WITH_ADMIN)
    assert "mount" in names(admin) and "mount" not in names(admin, "SCMP_ACT_ERRNO")


def test_min_kernel_in_includes_and_excludes() -> None:
    assert "ptrace" in names(convert(kernel=(4, 8))) and "ptrace" not in names(
        convert(kernel=(4, 7, 9))
    )
    assert "old" in names(convert(kernel=(4, 19))) and "old" not in names(convert(kernel=(5, 0)))


def test_default_action_errno_and_args_carried_over() -> None:
    out = convert()
    assert (out["defaultAction"], out["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    personality = next(r for r in out["syscalls"] if r["names"] == ["personality"])  # type: ignore[attr-defined]
    assert personality["args"] == [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{nope", "invalid seccomp profile"),
        ('{"defaultAction": "SCMP_ACT_SOMETIMES"}', "unknown defaultAction"),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "X"}]}',
            "unknown action",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], '
            '"action": "SCMP_ACT_ALLOW"}]}',
            "both 'name' and 'names'",
        ),
        ('{"architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "x"}]}', "use one"),
        (
            '{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}]}',
            "defaultAction is missing",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": '
            '"SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ODD"}]}]}',
            "unknown operator",
        ),
    ],
)
def test_malformed_profiles_are_refused(doc: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_profile(doc)


def test_an_empty_profile_means_unconfined() -> None:
    assert to_oci(parse_profile("{}"), DEFAULT) is None


def test_builtin_profile_is_dockers_intent() -> None:
    out = to_oci(BUILTIN_PROFILE, DEFAULT, arch="amd64", kernel=(6, 1))
    assert out is not None
    assert (out["defaultAction"], out["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    allowed = names(out)
    assert {"read", "execve", "clone", "socket", "arch_prctl", "chroot", "ptrace"} <= allowed
    assert not {"unshare", "mount", "setns", "reboot", "bpf", "keyctl", "add_key"} & allowed
    clone_rule = next(r for r in out["syscalls"] if r["names"] == ["clone"])  # type: ignore[attr-defined]
    assert clone_rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"
    assert "clone3" in names(out, "SCMP_ACT_ERRNO")
    admin = to_oci(BUILTIN_PROFILE, WITH_ADMIN, arch="amd64", kernel=(6, 1))
    assert {"unshare", "mount", "setns", "clone3"} <= names(admin)
    assert "clone3" not in names(admin, "SCMP_ACT_ERRNO")


@pytest.mark.skipif(not SYSTEM_PROFILE.is_file(), reason="containers-common not installed")
def test_system_profile_converts_for_this_host() -> None:
    profile = default_profile()
    assert profile.source == str(SYSTEM_PROFILE)
    out = to_oci(profile, DEFAULT)
    assert out is not None
    architectures = out["architectures"]
    assert isinstance(architectures, list)
    assert architectures[0] == NATIVE_TO_SCMP[native_arch()]
    assert {"read", "write", "execve"} <= names(out)
    # swapoff is refused with EPERM whatever the capabilities.
    assert "swapoff" in names(out, "SCMP_ACT_ERRNO")
    assert "bpf" not in names(out) and "bpf" in names(to_oci(profile, WITH_ADMIN))


def test_profiles_are_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(SAMPLE))
    first = load_profile(path)
    assert load_profile(path) is first
    doc = dict(SAMPLE, defaultErrnoRet=38)
    path.write_text(json.dumps(doc))
    os.utime(path, ns=(1, 1))
    assert load_profile(path).default_errno_ret == 38
    assert default_profile(tmp_path / "missing.json") is BUILTIN_PROFILE


def test_unreadable_profile_is_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot read seccomp profile"):
        load_profile(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "version"),
    [("6.18.44-fc-v669", (6, 18, 44)), ("4.8", (4, 8)), ("5.10.0-rc1", (5, 10, 0)), ("3", (3,))],
)
def test_kernel_versions(text: str, version: tuple[int, ...]) -> None:
    assert parse_kernel_version(text) == version


@given(st.text(max_size=30))
def test_kernel_version_parser_never_crashes_otherwise(text: str) -> None:
    try:
        version = parse_kernel_version(text)
    except ValueError:
        return
    assert version and all(v >= 0 for v in version)
