"""What ``docker update`` needs from the runtime layer: ``resources_to_oci`` for CFS period and
quota given apart from ``--cpus``, block I/O weight (dropped where the kernel has no knob), and
the cgroup probes behind those host facts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from wharf.runtime.cgroups import (
    CgroupLayout,
    CgroupVersion,
    available_mems,
    blkio_weight_supported,
)
from wharf.runtime.spec import ContainerSpec, HostFacts, Resources, build_config, resources_to_oci

SPEC = ContainerSpec(
    id="c0ffee",
    rootfs=Path("/rootfs"),
    args=("true",),
    env=(),
    cwd="/",
    uid=0,
    gid=0,
    additional_gids=(),
    terminal=False,
    hostname="c0ffee",
)


def test_period_and_quota_are_rendered_as_given_without_nano_cpus() -> None:
    out = resources_to_oci(Resources(cpu_period=50_000, cpu_quota=25_000, cpu_shares=512))
    assert out == {"cpu": {"shares": 512, "quota": 25_000, "period": 50_000}}
    assert resources_to_oci(Resources(cpu_quota=-1)) == {"cpu": {"quota": -1}}
    # --cpus wins: it is Docker's way of saying quota/period, and the two never coexist.
    both = resources_to_oci(Resources(nano_cpus=500_000_000, cpu_period=10_000))
    assert both == {"cpu": {"quota": 50_000, "period": 100_000}}


def test_memory_reservation_mems_and_blkio_weight() -> None:
    res = Resources(memory_reservation=32 << 20, cpuset_mems="0", blkio_weight=300)
    assert resources_to_oci(res) == {
        "memory": {"reservation": 32 << 20},
        "cpu": {"mems": "0"},
        "blockIO": {"weight": 300},
    }
    assert "blockIO" not in resources_to_oci(res, blkio_weight=False)


def test_render_drops_the_weight_on_a_host_without_the_knob() -> None:
    spec = replace(SPEC, resources=Resources(blkio_weight=300))
    without: Any = build_config(spec, HostFacts(blkio_weight=False))["linux"]
    with_knob: Any = build_config(spec, HostFacts(blkio_weight=True))["linux"]
    assert "blockIO" not in without["resources"]
    assert with_knob["resources"]["blockIO"] == {"weight": 300}


def test_blkio_weight_probe_on_v1_and_v2(tmp_path: Path) -> None:
    blkio = tmp_path / "blkio"
    blkio.mkdir()
    v1 = CgroupLayout(CgroupVersion.V1, v1=(("blkio", blkio),))
    assert not blkio_weight_supported(v1)
    (blkio / "blkio.bfq.weight").write_text("100\n")
    assert blkio_weight_supported(v1)
    assert not blkio_weight_supported(CgroupLayout(CgroupVersion.V1))

    unified = tmp_path / "unified"
    (unified / "system.slice").mkdir(parents=True)
    v2 = CgroupLayout(CgroupVersion.V2, unified=unified)
    assert not blkio_weight_supported(v2)
    (unified / "system.slice" / "io.weight").write_text("default 100\n")
    assert blkio_weight_supported(v2)


def test_available_mems(tmp_path: Path) -> None:
    cpuset = tmp_path / "cpuset"
    cpuset.mkdir()
    (cpuset / "cpuset.mems").write_text("0-1\n")
    assert available_mems(CgroupLayout(CgroupVersion.V1, v1=(("cpuset", cpuset),))) == "0-1"
    (tmp_path / "cpuset.mems.effective").write_text("0\n")
    assert available_mems(CgroupLayout(CgroupVersion.V2, unified=tmp_path)) == "0"
    assert available_mems(CgroupLayout(CgroupVersion.V1)) == "0"  # no cpuset: node 0
