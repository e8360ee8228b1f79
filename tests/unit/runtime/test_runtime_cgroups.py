"""Cgroup layouts (v1, hybrid, v2), stats and OOM readers on fake trees, and cleanup."""

from __future__ import annotations

from pathlib import Path

from wharf.runtime.cgroups import (
    CgroupDirs,
    CgroupLayout,
    CgroupVersion,
    cleanup,
    leftovers,
    oom_killed,
    pids,
    read_stats,
    system_cpu_usage,
)

# This machine's mount table: v1 controllers plus a v2 tree at /sys/fs/cgroup/unified.
HYBRID = """\
24 1 0:22 / /proc rw,nosuid - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
SYSTEMD_V1 = """\
31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,release_agent=/x
"""
UNIFIED = """\
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
"""


def test_hybrid_layout_is_v1_with_the_unified_tree_beside() -> None:
    layout = CgroupLayout.parse(HYBRID)
    assert layout.version is CgroupVersion.V1 and layout.version == "1"
    assert dict(layout.v1) == {
        "cpu": Path("/sys/fs/cgroup/cpu"),
        "cpuacct": Path("/sys/fs/cgroup/cpuacct"),
        "memory": Path("/sys/fs/cgroup/memory"),
        "pids": Path("/sys/fs/cgroup/pids"),
        "name=systemd": Path("/sys/fs/cgroup/systemd"),
    }
    dirs = layout.dirs("/wharf/abc")
    assert dirs.controller("memory") == Path("/sys/fs/cgroup/memory/wharf/abc")
    assert dirs.unified == Path("/sys/fs/cgroup/unified/wharf/abc")
    assert len(dirs.all()) == 6


def test_co_mounted_controllers_share_one_directory() -> None:
    layout = CgroupLayout.parse(SYSTEMD_V1)
    dirs = layout.dirs("/wharf/abc")
    assert dirs.controller("cpu") == dirs.controller("cpuacct")
    assert dirs.controller("cpuacct") == Path("/sys/fs/cgroup/cpu,cpuacct/wharf/abc")
    assert dirs.all() == (
        Path("/sys/fs/cgroup/cpu,cpuacct/wharf/abc"),
        Path("/sys/fs/cgroup/memory/wharf/abc"),
    )
    assert "release_agent=/x" not in dict(layout.v1)


def test_unified_layout() -> None:
    layout = CgroupLayout.parse(UNIFIED)
    assert layout.version is CgroupVersion.V2
    assert layout.dirs("/wharf/abc") == CgroupDirs(
        CgroupVersion.V2, (), Path("/sys/fs/cgroup/wharf/abc")
    )


def test_escaped_mountpoints() -> None:
    text = "32 31 0:29 / /sys/fs/cgroup/my\\040cpu rw - cgroup cgroup rw,cpu\n"
    assert dict(CgroupLayout.parse(text).v1) == {"cpu": Path("/sys/fs/cgroup/my cpu")}


def test_this_host_layout_is_readable() -> None:
    layout = CgroupLayout.detect()
    assert layout.version in (CgroupVersion.V1, CgroupVersion.V2)


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def v1_dirs(root: Path) -> CgroupDirs:
    return CgroupDirs(
        CgroupVersion.V1,
        tuple((c, root / c / "wharf/x") for c in ("blkio", "cpuacct", "memory", "pids")),
        root / "unified/wharf/x",
    )


def test_v1_stats(tmp_path: Path) -> None:
    dirs = v1_dirs(tmp_path)
    write(
        tmp_path / "memory/wharf/x",
        {
            "memory.usage_in_bytes": "1048576\n",
            "memory.limit_in_bytes": "33554432\n",
            "memory.max_usage_in_bytes": "2097152\n",
            "memory.stat": "cache 4096\nrss 8192\ntotal_inactive_file 100\n",
            "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        },
    )
    write(
        tmp_path / "cpuacct/wharf/x",
        {
            "cpuacct.usage": "5000000\n",
            "cpuacct.usage_percpu": "3000000 2000000 \n",
            "cpuacct.stat": "user 3\nsystem 1\n",
        },
    )
    write(tmp_path / "pids/wharf/x", {"pids.current": "3\n", "pids.max": "max\n"})
    write(
        tmp_path / "blkio/wharf/x",
        {
            "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n"
            "8:16 Read 1\nTotal 12289\n"
        },
    )
    proc_stat = tmp_path / "stat"
    proc_stat.write_text("cpu  100 0 50 1000 0 0 0 7 0 0\ncpu0 1 2 3 4 5 6 7\n")
    stats = read_stats(dirs, proc_stat=proc_stat)
    assert (stats.memory_usage, stats.memory_limit, stats.memory_max_usage) == (
        1 << 20,
        32 << 20,
        2 << 20,
    )
    assert dict(stats.memory_stat)["rss"] == 8192
    assert stats.cpu_usage_total_ns == 5_000_000
    assert stats.cpu_usage_per_cpu == (3_000_000, 2_000_000)
    assert stats.online_cpus == 2
    assert stats.cpu_usage_user_ns > stats.cpu_usage_system_ns > 0
    assert stats.system_cpu_usage == system_cpu_usage(proc_stat) > 0
    assert (stats.pids_current, stats.pids_limit) == (3, None)
    assert (stats.io_read_bytes, stats.io_write_bytes) == (4097, 8192)
    assert not oom_killed(dirs)
    (tmp_path / "memory/wharf/x/memory.oom_control").write_text("under_oom 0\noom_kill 2\n")
    assert oom_killed(dirs)


def test_v1_unlimited_memory_and_old_kernels_without_oom_counter(tmp_path: Path) -> None:
    dirs = v1_dirs(tmp_path)
    write(
        tmp_path / "memory/wharf/x",
        {
            "memory.limit_in_bytes": "9223372036854771712\n",
            "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n",
            "memory.failcnt": "0\n",
        },
    )
    assert read_stats(dirs).memory_limit is None
    assert not oom_killed(dirs)
    (tmp_path / "memory/wharf/x/memory.failcnt").write_text("12\n")
    assert oom_killed(dirs)


def test_missing_cgroup_reads_as_zero(tmp_path: Path) -> None:
    stats = read_stats(v1_dirs(tmp_path))
    assert (stats.memory_usage, stats.pids_current, stats.memory_limit) == (0, 0, None)
    assert not oom_killed(v1_dirs(tmp_path))
    assert pids(v1_dirs(tmp_path)) == []


def test_v2_stats_and_oom(tmp_path: Path) -> None:
    d = tmp_path / "wharf/x"
    write(
        d,
        {
            "memory.current": "4096\n",
            "memory.max": "max\n",
            "memory.peak": "8192\n",
            "memory.stat": "anon 100\nfile 200\n",
            "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n",
            "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
            "pids.current": "2\n",
            "pids.max": "20\n",
            "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n",
            "cgroup.procs": "10\n11\n",
        },
    )
    dirs = CgroupDirs(CgroupVersion.V2, (), d)
    stats = read_stats(dirs)
    assert (stats.memory_usage, stats.memory_limit, stats.memory_max_usage) == (4096, None, 8192)
    assert stats.cpu_usage_total_ns == 1_500_000
    assert (stats.cpu_usage_user_ns, stats.cpu_usage_system_ns) == (1_000_000, 500_000)
    assert (stats.pids_current, stats.pids_limit) == (2, 20)
    assert (stats.io_read_bytes, stats.io_write_bytes) == (101, 202)
    assert pids(dirs) == [10, 11]
    assert not oom_killed(dirs)
    (d / "memory.events").write_text("oom 1\noom_kill 1\n")
    assert oom_killed(dirs)


def test_cleanup_removes_empty_trees_and_reports_busy_ones(tmp_path: Path) -> None:
    dirs = v1_dirs(tmp_path)
    (tmp_path / "memory/wharf/x/child/grandchild").mkdir(parents=True)
    (tmp_path / "pids/wharf/x").mkdir(parents=True)
    busy_dir = tmp_path / "cpuacct/wharf/x"
    busy_dir.mkdir(parents=True)
    (busy_dir / "a-file").write_text("a plain dir with a file cannot be rmdir'ed: 'busy'")
    assert len(leftovers(dirs)) == 3
    assert cleanup(dirs) == [busy_dir]
    assert leftovers(dirs) == [busy_dir]
    assert (tmp_path / "memory/wharf").is_dir()  # the parent /wharf is shared: kept
