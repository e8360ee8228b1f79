"""Recovery of the network service at daemon start and its clean exit: the default networks,
bridges recreated or kept, the firewall rebuilt from the records, and what crashed or dead
containers held released (see ``networks`` for the whole story).

``prepare`` runs before the container service recovers (containers restarted by their policy
need their bridges), ``reconcile`` after it (only then is it known which containers run).
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from wharf.apitypes.networks import BRIDGE_NAME_OPTION
from wharf.engine.network_model import (
    DEFAULT_BRIDGE,
    HOST,
    NONE,
    Driver,
    Network,
    NetworkConfig,
)
from wharf.engine.network_setup import NetworkSandboxes
from wharf.errdefs import WharfError
from wharf.metadata.networks import NetworkRow
from wharf.network import ipam
from wharf.network.nftables import BridgeRules, PortMapping

log = logging.getLogger("wharf.engine.networks")

ICC_OPTION = "com.docker.network.bridge.enable_icc"
MTU_OPTION = "com.docker.network.driver.mtu"


class NetworkRecovery(NetworkSandboxes):
    """Default networks, bridges and firewall from the records; crash clean-up; exit."""

    def _make_bridge(self, network: Network) -> None:
        v4 = network.ipv4
        assert v4 is not None
        self._driver.create_network(
            network.config.bridge,
            v4,
            internal=network.config.internal,
            ipv6_subnet=network.ipv6,
            icc=network.config.icc,
            mtu=network.config.mtu,
        )

    def _insert(self, network: Network) -> None:
        self._records.insert(
            NetworkRow(
                id=network.id,
                name=network.name,
                driver=network.driver.value,
                created_at=network.created_at,
                config=network.config.to_json(),
            )
        )

    def prepare(self) -> None:
        """Daemon start, before containers recover: default networks, bridges, firewall."""
        with self._lock:
            try:
                self._ensure_defaults()
            except WharfError as exc:
                # Without its bridge the daemon still serves host/none containers and images.
                log.error("cannot set up the default bridge network: %s", exc.message)
            for network in self._all_networks():
                if network.is_bridge:
                    try:
                        self._make_bridge(network)
                    except WharfError as exc:
                        log.error("cannot set up network %s: %s", network.name, exc.message)
            self._restore_firewall()
            for network in self._all_networks():
                self._refresh_dns(network)

    def _ensure_defaults(self) -> None:
        now = self._clock()
        if self._records.find_by_name(DEFAULT_BRIDGE) is None:
            with self._host_allocation():
                ours = [net for n in self._all_networks() for net in n.networks()]
                subnet = ipam.validate_subnet(
                    ipam.AddressPool().next_free(ours, self._kernel.host_routes())
                )
                bridge = self._names.default_bridge
                network = Network(
                    id=secrets.token_hex(32),
                    name=DEFAULT_BRIDGE,
                    driver=Driver.BRIDGE,
                    created_at=now,
                    config=NetworkConfig(
                        subnets=(subnet,),
                        bridge=bridge,
                        options={
                            "com.docker.network.bridge.default_bridge": "true",
                            ICC_OPTION: "true",
                            "com.docker.network.bridge.enable_ip_masquerade": "true",
                            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                            BRIDGE_NAME_OPTION: bridge,
                            MTU_OPTION: "1500",
                        },
                    ),
                )
                self._make_bridge(network)
                try:
                    self._insert(network)
                except BaseException:
                    with contextlib.suppress(WharfError):
                        self._driver.delete_network(bridge)
                    raise
        # A microsecond apart, so the records list them in Docker's order.
        for step, (name, driver) in enumerate(((HOST, Driver.HOST), (NONE, Driver.NULL)), 1):
            if self._records.find_by_name(name) is None:
                created = now + step * 1e-6
                self._insert(Network(secrets.token_hex(32), name, driver, created, NetworkConfig()))

    def _restore_firewall(self) -> None:
        bridges = []
        by_bridge = {}
        for network in self._all_networks():
            if network.is_bridge:
                by_bridge[network.id] = network
                for subnet in network.config.subnets:
                    bridges.append(
                        BridgeRules(
                            network.config.bridge,
                            subnet.network,
                            network.config.internal,
                            network.config.icc,
                        )
                    )
        ports: dict[str, list[PortMapping]] = {}
        for ep in self._all_endpoints():
            owner = by_bridge.get(ep.network_id)
            if ep.active is None or owner is None or ep.active.ipv4 is None:
                continue
            for port in ep.active.ports:
                ports.setdefault(ep.container_id, []).append(
                    PortMapping(
                        port.key.protocol,
                        port.host_ip,
                        port.host_port,
                        ep.active.ipv4.ip,
                        port.key.number,
                        owner.config.bridge,
                    )
                )
        self._driver.restore(bridges, ports)

    def reconcile(self) -> None:
        """Daemon start, after containers recovered: release what dead containers held and
        delete what no record explains."""
        with self._lock:
            running = {
                config.id: config
                for config, state in self.containers.all_containers()
                if state.running
            }
            known = {config.id for config, _ in self.containers.all_containers()}
            for ep in self._all_endpoints():
                if ep.container_id not in known:
                    self._records.delete_endpoint(ep.network_id, ep.container_id)
                elif ep.active is not None and ep.container_id not in running:
                    self.release(ep.container_id)
            if self._netns_dir.is_dir():
                for path in self._netns_dir.iterdir():
                    if path.name not in running:
                        with contextlib.suppress(WharfError, OSError):
                            self._kernel.remove_netns(path)
            keep = {n.config.bridge for n in self._all_networks() if n.is_bridge}
            keep |= {ep.active.veth for ep in self._all_endpoints() if ep.active and ep.active.veth}
            try:
                removed = self._driver.prune_links(keep, self._names.link_prefixes)
            except WharfError as exc:
                log.warning("cleaning up interfaces: %s", exc.message)
                removed = []
            if removed:
                log.info("removed interfaces no record explains: %s", ", ".join(removed))
            self._restore_firewall()
            for network in self._all_networks():
                self._refresh_dns(network)
            for config in running.values():
                self._register_clients(config.id, config.host_config.dns)

    def close(self) -> None:
        """Daemon shutdown: with no container running, take our bridges and table away."""
        with self._lock:
            if self._containers is not None and any(
                state.running for _, state in self._containers.all_containers()
            ):
                return
            for network in self._all_networks():
                if network.is_bridge:
                    with contextlib.suppress(WharfError):
                        self._driver.delete_network(network.config.bridge)
            with contextlib.suppress(WharfError):
                self._driver.firewall.remove()
