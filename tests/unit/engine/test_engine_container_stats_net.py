"""``container_ops.net_dev_stats``: Docker's per-interface ``networks`` stats from a
``/proc/<pid>/net/dev`` table."""

from __future__ import annotations

from wharf.engine.container_ops import net_dev_stats

# The kernel's layout, columns narrowed: two header lines, then rx (8 columns) and tx (8).
NET_DEV = """\
Inter-|   Receive                                       |  Transmit
 face |bytes packets errs drop fifo frame compr mcast|bytes packets errs drop fifo colls car compr
    lo:   140     2    0    0    0     0     0     0   140     2    0    0    0     0     0     0
  eth0:  5312    41    1    2    0     0     0     0  1902    19    3    4    0     0     0     0
  eth1:0 0 0 0 0 0 0 0 7 1 0 0 0 0 0 0
"""


def test_counters_per_interface_without_loopback() -> None:
    stats = net_dev_stats(NET_DEV)
    assert list(stats) == ["eth0", "eth1"]
    assert stats["eth0"] == {
        "rx_bytes": 5312, "rx_packets": 41, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 1902, "tx_packets": 19, "tx_errors": 3, "tx_dropped": 4,
    }  # fmt: skip
    assert stats["eth1"]["tx_bytes"] == 7


def test_only_loopback_or_garbage_gives_nothing() -> None:
    assert net_dev_stats("\n".join(NET_DEV.splitlines()[:3])) == {}
    assert net_dev_stats("header\nheader\n  eth0: not numbers at all 1 2 3 4 5 6 7 8 9\n") == {}
    assert net_dev_stats("") == {}
