"""A container's network, from create to rm: which networks it joins (checked at create),
its namespace, veths, addresses and published ports while it runs, its /etc/hosts and
/etc/resolv.conf, and the names it answers to in the embedded DNS.

The order at start (``setup``), undone in reverse by ``release`` if any step fails::

    namespace file <exec-root>/netns/<id> (lo up)
    for each endpoint (primary first): address -> veth pair into the namespace -> record
    published ports (Docker's "port is already allocated" on a clash) -> firewall
    DNS names of each user network, DNS clients

``release`` (the container stopped, or a failed start) is idempotent and never raises for
what is already gone; ``forget`` (rm) drops the endpoint rows too.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_address
from pathlib import Path

from wharf.apitypes.containers import CreateRequest
from wharf.apitypes.networks import EndpointSettings
from wharf.engine.container_model import ContainerConfig
from wharf.engine.network_base import NetworkStore
from wharf.engine.network_model import (
    COMPOSE_SERVICE_LABEL,
    DEFAULT_BRIDGE,
    HOST,
    NONE,
    ActiveEndpoint,
    Driver,
    Endpoint,
    Network,
    NetworkSetup,
    PortKey,
    PortRequest,
    PublishedPort,
    SandboxMode,
)
from wharf.errdefs import Conflict, Forbidden, InvalidArgument, NotFound, WharfError
from wharf.network import etcfiles, ipam
from wharf.network.bridge import port_in_use
from wharf.network.nftables import PortMapping

log = logging.getLogger("wharf.engine.networks")

_MAC_CHARS = set("0123456789abcdef:")


def primary_name(network_mode: str) -> str:
    """The network a ``NetworkMode`` names: ``""``/``default`` are the default bridge."""
    return DEFAULT_BRIDGE if network_mode in ("", "default") else network_mode


def _parse_address(text: str, version: int, what: str) -> IPv4Address | IPv6Address | None:
    if not text:
        return None
    try:
        address = ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what} address: {text}") from None
    if address.version != version:
        raise InvalidArgument(f"invalid {what} address: {text}")
    return address


def _check_mac(mac: str) -> str:
    lowered = mac.lower()
    parts = lowered.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts) or set(lowered) - _MAC_CHARS:
        raise InvalidArgument(f"invalid MAC address: {mac}")
    return lowered


class NetworkSandboxes(NetworkStore):
    """What the container service asks of networks (``NetworkProvider``)."""

    # ------------------------------------------------------------------ create / rm

    def plan(self, container_id: str, request: CreateRequest) -> list[Endpoint]:
        """Check a create request's networks as Docker does; the endpoints to record."""
        hc = request.host_config
        mode = hc.network_mode or "default"
        if mode.startswith("container:"):
            target = mode.partition(":")[2]
            if not target:
                raise InvalidArgument(f"invalid network mode: {mode}")
            self.containers.resolve_id(target)
            others = [name for name, _ in request.networking.endpoints if name != mode]
            if others:
                raise InvalidArgument(
                    "conflicting options: container type network can't be used with other networks"
                )
            return []  # it joins the other container's namespace: no endpoint of its own
        primary = self.find_network(primary_name(mode))
        chosen: dict[str, tuple[Network, EndpointSettings]] = {
            primary.id: (primary, EndpointSettings())
        }
        for name, settings in request.networking.endpoints:
            network = (
                primary if name in ("default", mode) else self.find_network(primary_name(name))
            )
            chosen[network.id] = (network, settings)
        if primary.driver is not Driver.BRIDGE and len(chosen) > 1:
            joined = ", ".join(sorted(n.name for n, _ in chosen.values()))
            raise InvalidArgument(f"Container cannot be connected to network endpoints: {joined}")
        endpoints = []
        for network, settings in chosen.values():
            endpoints.append(self._endpoint_request(container_id, network, settings))
        mac = request.config.mac_address
        if mac:
            _check_mac(mac)
        return endpoints

    def _endpoint_request(
        self, container_id: str, network: Network, settings: EndpointSettings
    ) -> Endpoint:
        user_defined = network.is_bridge and network.name != DEFAULT_BRIDGE
        if settings.aliases and not user_defined:
            raise InvalidArgument(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        ipv4 = _parse_address(settings.ipv4_address, 4, "IPv4")
        ipv6 = _parse_address(settings.ipv6_address, 6, "IPv6")
        if (ipv4 or ipv6) and not user_defined:
            raise InvalidArgument(
                "user specified IP address is supported on user defined networks only"
            )
        if ipv4 is not None:
            subnet = network.ipv4
            if subnet is None or ipv4 not in subnet.network:
                raise InvalidArgument(
                    f"no configured subnet or ip-range contain the IP address {ipv4}"
                )
        if ipv6 is not None and (network.ipv6 is None or ipv6 not in network.ipv6.network):
            raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {ipv6}")
        return Endpoint(
            network_id=network.id,
            container_id=container_id,
            aliases=tuple(dict.fromkeys(settings.aliases)),
            ipv4=ipv4 if isinstance(ipv4, IPv4Address) else None,
            ipv6=ipv6 if isinstance(ipv6, IPv6Address) else None,
            mac=_check_mac(settings.mac_address) if settings.mac_address else "",
        )

    def register(self, endpoints: Sequence[Endpoint]) -> None:
        """Record a new container's endpoints (after its own record): all or none."""
        with self._lock, self._records.transaction():
            for endpoint in endpoints:
                self._save_endpoint(endpoint)

    def forget(self, container_id: str) -> None:
        """The container is removed: release what it holds and drop its endpoints."""
        with self._lock:
            self.release(container_id)
            self._records.delete_endpoints_of_container(container_id)

    # ------------------------------------------------------------------ start

    def setup(self, config: ContainerConfig) -> NetworkSetup:
        """Everything a starting container needs from its networks (see the module doc)."""
        mode = primary_name(config.host_config.network_mode)
        if mode.startswith("container:"):
            return self._joined_setup(config, mode.partition(":")[2])
        with self._lock:
            endpoints = self._endpoints_for(config)
            networks = {ep.network_id: self._network(ep.network_id) for ep in endpoints}
            primary = networks[endpoints[0].network_id]
            if primary.driver is Driver.HOST or mode == HOST:
                self._activate_plain(endpoints)
                self._endpoint_events("connect", config.id, endpoints)
                return self._host_setup(config)
            if primary.driver is Driver.NULL or mode == NONE:
                self._activate_plain(endpoints)
                self._endpoint_events("connect", config.id, endpoints)
                return NetworkSetup(
                    SandboxMode.NONE, None, self._hosts(config, []), self._resolv(config, None)
                )
            path = self._netns_dir / config.id
            try:
                self._kernel.create_netns(path)
                active = self._attach_all(config, path, endpoints, networks)
                self._publish(config, active, networks)
            except BaseException:
                self.release(config.id)
                raise
            self._endpoint_events("connect", config.id, active)
            for network in networks.values():
                self._refresh_dns(network)
            self._register_clients(config.id, config.host_config.dns)
            embedded: IPv4Address | IPv6Address | None = next(
                (
                    ep.active.gateway
                    for ep in active
                    if ep.active is not None
                    and networks[ep.network_id].has_dns
                    and ep.active.gateway is not None
                ),
                None,
            )
            if embedded is None:
                embedded = next(
                    (
                        s.gateway
                        for ep in active
                        if networks[ep.network_id].has_dns
                        and (s := networks[ep.network_id].ipv4) is not None
                    ),
                    None,
                )
            addresses = [a for ep in active if ep.active for a in ep.active.addresses()]
            return NetworkSetup(
                SandboxMode.PATH,
                path,
                self._hosts(config, addresses),
                self._resolv(config, embedded if isinstance(embedded, IPv4Address) else None),
            )

    def _joined_setup(self, config: ContainerConfig, target_ref: str) -> NetworkSetup:
        """``--network container:<target>``: the target's namespace, hosts and resolv.conf."""
        target_id = self.containers.resolve_id(target_ref)
        target, state = self.containers.config_and_state(target_id)
        if not state.running:
            raise Conflict(f"cannot join network of a non running container: {target_id}")
        target_mode = primary_name(target.host_config.network_mode)
        if target_mode == HOST:
            return self._host_setup(config)
        if target_mode.startswith("container:"):
            return self._joined_setup(config, target_mode.partition(":")[2])
        path = self._netns_dir / target_id
        if not path.exists():  # an empty namespace the runtime made (--network none)
            path = Path(f"/proc/{state.pid}/ns/net")
        with self._lock:
            active = [ep for ep in self._endpoints_of_container(target_id) if ep.active]
            embedded = None
            for ep in active:
                network = self._network(ep.network_id)
                subnet = network.ipv4
                if network.has_dns and subnet is not None and embedded is None:
                    embedded = subnet.gateway
            addresses = [a for ep in active if ep.active for a in ep.active.addresses()]
        return NetworkSetup(
            SandboxMode.PATH,
            path,
            self._hosts(target, addresses),
            self._resolv(target, embedded if isinstance(embedded, IPv4Address) else None),
        )

    def _endpoints_for(self, config: ContainerConfig) -> list[Endpoint]:
        """The container's endpoints, primary first; a container recorded without any (made
        before networks existed) gets one on its NetworkMode's network."""
        endpoints = self._endpoints_of_container(config.id)
        primary = self.find_network(primary_name(config.host_config.network_mode))
        if not endpoints:
            endpoint = Endpoint(primary.id, config.id)
            self._save_endpoint(endpoint)
            endpoints = [endpoint]
        endpoints.sort(key=lambda ep: ep.network_id != primary.id)
        return endpoints

    def _activate_plain(self, endpoints: Iterable[Endpoint]) -> None:
        for ep in endpoints:
            if ep.active is None:
                self._save_endpoint(replace(ep, active=ActiveEndpoint(secrets.token_hex(32))))

    def _host_setup(self, config: ContainerConfig) -> NetworkSetup:
        hc = config.host_config
        try:
            hosts = self._host_hosts.read_text()
        except OSError:
            hosts = etcfiles.hosts_file(hostname=config.config.hostname)
        extra = self._extra_hosts(config, gateway=IPv4Address("127.0.0.1"))
        if extra:
            hosts = hosts.rstrip("\n") + "\n" + "".join(f"{ip}\t{name}\n" for name, ip in extra)
        resolv = etcfiles.resolv_conf(
            self._host_resolv_text(),
            dns=hc.dns,
            dns_search=hc.dns_search,
            dns_options=hc.dns_options,
            host_network=True,
        )
        return NetworkSetup(SandboxMode.HOST, None, hosts, resolv)

    def _attach_all(
        self,
        config: ContainerConfig,
        path: Path,
        endpoints: list[Endpoint],
        networks: dict[str, Network],
    ) -> list[Endpoint]:
        active: list[Endpoint] = []
        has_gateway = False
        for index, ep in enumerate(endpoints):
            network = networks[ep.network_id]
            if not network.is_bridge:
                raise InvalidArgument(
                    f"container cannot be connected to {network.name} and to another network"
                )
            mac = ep.mac or (config.config.mac_address if index == 0 else "")
            attached = self._attach(
                config, path, ep, network, ifname=f"eth{index}", mac=mac, route=not has_gateway
            )
            has_gateway = has_gateway or (
                not network.config.internal
                and attached.active is not None
                and attached.active.gateway is not None
            )
            active.append(attached)
        return active

    def _attach(
        self,
        config: ContainerConfig,
        path: Path,
        ep: Endpoint,
        network: Network,
        *,
        ifname: str,
        mac: str,
        route: bool,
    ) -> Endpoint:
        """One veth into the namespace, its address allocated and recorded."""
        subnet = network.ipv4
        if subnet is None:
            raise InvalidArgument(f"network {network.name} has no IPv4 subnet")
        others = [
            o.active
            for o in self._endpoints_of_network(network.id)
            if o.active is not None and o.container_id != ep.container_id
        ]
        used4 = {a.ipv4.ip for a in others if a.ipv4 is not None}
        address: ipam.IPAddress
        if ep.ipv4 is not None:
            ipam.check_requested_address(subnet, ep.ipv4, used4)
            address = ep.ipv4
        else:
            address = ipam.allocate_address(subnet, used4)
        internal = network.config.internal
        address6: IPv6Interface | None = None
        network_gateway6: IPv6Address | None = None
        v6 = network.ipv6
        if v6 is not None and self._kernel.ipv6_enabled():
            used6 = {a.ipv6.ip for a in others if a.ipv6 is not None}
            if ep.ipv6 is not None:
                ipam.check_requested_address(v6, ep.ipv6, used6)
                chosen6 = v6.interface(ep.ipv6)
            else:
                chosen6 = v6.interface(ipam.allocate_address(v6, used6))
            # A network's ipv6 subnet is IPv6 through and through (Network.ipv6).
            assert isinstance(chosen6, IPv6Interface) and isinstance(v6.gateway, IPv6Address)
            address6, network_gateway6 = chosen6, v6.gateway
        gateway6 = network_gateway6 if route and not internal else None
        veth = self._names.new_veth()
        interface = subnet.interface(address)
        network_gateway = subnet.gateway
        assert isinstance(interface, IPv4Interface) and isinstance(network_gateway, IPv4Address)
        mac_address = self._driver.connect(
            bridge_name=network.config.bridge,
            netns_path=path,
            ifname=ifname,
            host_veth_name=veth,
            address=interface,
            gateway=network_gateway if route and not internal else None,
            mac=mac or None,
            mtu=network.config.mtu,
            address6=address6,
            gateway6=gateway6,
        )
        endpoint = replace(
            ep,
            active=ActiveEndpoint(
                endpoint_id=secrets.token_hex(32),
                ifname=ifname,
                veth=veth,
                ipv4=interface,
                ipv6=address6,
                mac=mac_address,
                gateway=None if internal else network_gateway,
                gateway6=None if internal else network_gateway6,
                dns_names=self._dns_names(config, ep) if network.has_dns else (),
            ),
        )
        self._save_endpoint(endpoint)
        return endpoint

    def _dns_names(self, config: ContainerConfig, ep: Endpoint) -> tuple[str, ...]:
        names = [config.name, *ep.aliases, config.id[:12]]
        labels = config.config.labels
        service = labels.get(COMPOSE_SERVICE_LABEL)
        # A one-off (``compose run``) container does not answer for its service, as in compose.
        if service and labels.get("com.docker.compose.oneoff", "False") != "True":
            names.append(service)
        return tuple(dict.fromkeys(n for n in names if n))

    # ------------------------------------------------------------------ ports

    def port_requests(self, config: ContainerConfig, primary: Endpoint) -> list[PortRequest]:
        """HostConfig's bindings, ``-P``'s exposed ports and the live changes, in order."""
        hc = config.host_config
        requests: list[PortRequest] = [
            PortRequest.parse(b.container_port, b.host_ip, b.host_port) for b in hc.port_bindings
        ]
        if hc.publish_all_ports:
            bound = {r.key for r in requests}
            for exposed in config.config.exposed_ports:
                key = PortKey.parse(exposed)
                if key not in bound:
                    requests.append(PortRequest(key))
        removed = set(primary.unpublished)
        kept = [r for r in requests if r.key not in removed]
        return list(dict.fromkeys([*kept, *primary.published]))

    def _publish(
        self, config: ContainerConfig, active: list[Endpoint], networks: dict[str, Network]
    ) -> None:
        if not active:
            return
        primary = active[0]
        network = networks[primary.network_id]
        requests = self.port_requests(config, primary)
        if not requests or network.config.internal:
            return
        ports = self._map_ports(config.id, requests, primary, network)
        assert primary.active is not None
        updated = replace(primary, active=replace(primary.active, ports=tuple(ports)))
        self._save_endpoint(updated)
        active[0] = updated

    def _map_ports(
        self, container_id: str, requests: list[PortRequest], primary: Endpoint, network: Network
    ) -> list[PublishedPort]:
        """Host ports for ``requests``, published in one change (all or nothing); ports the
        container already holds for the same request are kept."""
        assert primary.active is not None and primary.active.ipv4 is not None
        container_ip = primary.active.ipv4.ip
        holding = list(primary.active.ports)
        published = self._driver.published()
        taken = [m for owner, ms in published.items() if owner != container_id for m in ms]
        chosen: list[PublishedPort] = []
        for request in requests:
            port = self._pick_port(request, holding, taken, chosen)
            chosen.append(PublishedPort(request.key, request.host_ip, port))
        mappings = [
            PortMapping(
                p.key.protocol,
                p.host_ip,
                p.host_port,
                container_ip,
                p.key.number,
                network.config.bridge,
            )
            for p in chosen
        ]
        self._driver.publish(container_id, mappings)
        return chosen

    def _pick_port(
        self,
        request: PortRequest,
        holding: list[PublishedPort],
        taken: list[PortMapping],
        chosen: list[PublishedPort],
    ) -> int:
        proto = request.key.protocol

        def clashes(port: int) -> bool:
            def same_host(other: object) -> bool:
                host = getattr(other, "host_ip", None)
                return request.host_ip is None or host is None or host == request.host_ip

            return any(
                m.protocol == proto and m.host_port == port and same_host(m) for m in taken
            ) or any(
                c.key.protocol == proto and c.host_port == port and same_host(c) for c in chosen
            )

        for held in holding:
            if held.key == request.key and held.host_ip == request.host_ip:
                fits = request.host_ports is None or (
                    request.host_ports[0] <= held.host_port <= request.host_ports[1]
                )
                if fits and not clashes(held.host_port):
                    return held.host_port
        if request.host_ports is None:
            used = [c.host_port for c in chosen if c.key.protocol == proto]
            return self._driver.allocate_port(proto, request.host_ip, used)
        first, last = request.host_ports
        for port in range(first, last + 1):
            if not clashes(port) and (
                first == last or self._driver.port_free(proto, request.host_ip, port)
            ):
                return port
        raise port_in_use(proto, request.host_ip, first)

    # ------------------------------------------------------------------ etc files

    def _extra_hosts(
        self, config: ContainerConfig, *, gateway: IPv4Address | None
    ) -> list[tuple[str, str]]:
        entries = []
        for text in config.host_config.extra_hosts:
            name, ip = etcfiles.parse_add_host(text)
            if ip == etcfiles.HOST_GATEWAY:
                if gateway is None:
                    raise InvalidArgument(
                        "unable to derive the IP value for host-gateway: no default bridge"
                    )
                ip = str(gateway)
            entries.append((name, ip))
        return entries

    def _default_gateway(self) -> IPv4Address | None:
        with contextlib.suppress(NotFound):
            subnet = self.find_network(DEFAULT_BRIDGE).ipv4
            if subnet is not None and isinstance(subnet.gateway, IPv4Address):
                return subnet.gateway
        return None

    def _hosts(
        self, config: ContainerConfig, addresses: Sequence[IPv4Address | IPv6Address]
    ) -> str:
        sysctls = config.host_config.sysctls
        ipv6_off = sysctls.get("net.ipv6.conf.all.disable_ipv6") == "1"
        return etcfiles.hosts_file(
            hostname=config.config.hostname,
            domainname=config.config.domainname,
            addresses=addresses,
            extra_hosts=self._extra_hosts(config, gateway=self._default_gateway()),
            ipv6=not ipv6_off,
        )

    def _resolv(self, config: ContainerConfig, embedded: IPv4Address | None) -> str:
        hc = config.host_config
        return etcfiles.resolv_conf(
            self._host_resolv_text(),
            dns=hc.dns,
            dns_search=hc.dns_search,
            dns_options=hc.dns_options,
            embedded_dns=embedded,
            upstreams=self._upstreams(hc.dns) if embedded is not None else (),
        )

    # ------------------------------------------------------------------ stop

    def release(self, container_id: str) -> None:
        """Give back what a stopped container held: ports, veths, namespace, addresses,
        DNS names. Idempotent; failures are logged, never raised."""
        with self._lock:
            endpoints = self._endpoints_of_container(container_id)
            held = [ep for ep in endpoints if ep.active is not None]
            path = self._netns_dir / container_id
            if not held and not path.exists():
                return
            if any(ep.active and ep.active.ports for ep in held) or self._driver.published().get(
                container_id
            ):
                try:
                    self._driver.unpublish(container_id)
                except WharfError as exc:
                    log.warning("unpublishing ports of %s: %s", container_id[:12], exc.message)
            self._drop_clients(held)
            # Removing the namespace deletes its veths (and their host ends) in the kernel's
            # background; reconcile deletes any host end that outlived it.
            try:
                self._kernel.remove_netns(path)
            except (WharfError, OSError) as exc:
                log.warning("removing network namespace of %s: %s", container_id[:12], exc)
            for ep in held:
                with contextlib.suppress(NotFound):
                    self._save_endpoint(ep.deactivated())
            self._endpoint_events("disconnect", container_id, held)
            for network_id in {ep.network_id for ep in held}:
                with contextlib.suppress(NotFound):
                    self._refresh_dns(self._network(network_id))

    def renamed(self, config: ContainerConfig) -> None:
        """The container has a new name: its DNS names follow at once, as in Docker."""
        with self._lock:
            for ep in self._endpoints_of_container(config.id):
                if ep.active is None or not ep.active.dns_names:
                    continue
                names = self._dns_names(config, ep)
                self._save_endpoint(replace(ep, active=replace(ep.active, dns_names=names)))
                with contextlib.suppress(NotFound):
                    self._refresh_dns(self._network(ep.network_id))

    # ------------------------------------------------------------------ live changes

    def _attach_live(self, config: ContainerConfig, ep: Endpoint, network: Network) -> Endpoint:
        """Plug a running container into one more network (``network connect``)."""
        path = self._netns_dir / config.id
        if not path.exists():
            raise Conflict(f"container {config.id[:12]} has no network namespace to connect")
        current = [e for e in self._endpoints_of_container(config.id) if e.active is not None]
        used = {e.active.ifname for e in current if e.active is not None}
        index = 0
        while f"eth{index}" in used:
            index += 1
        has_route = any(e.active is not None and e.active.gateway is not None for e in current)
        had_dns = any(self._network(e.network_id).has_dns for e in current)
        attached = self._attach(
            config, path, ep, network, ifname=f"eth{index}", mac=ep.mac, route=not has_route
        )
        self._refresh_dns(network)
        self._register_clients(config.id, config.host_config.dns)
        if network.has_dns and not had_dns:
            self._point_resolv_at_dns(config, attached, network)
        self._rewrite_hosts(config)
        return attached

    def _rewrite_hosts(self, config: ContainerConfig) -> None:
        """/etc/hosts lists the container's addresses on every network it is on now, as
        dockerd rewrites it on connect and disconnect. In place: the file is bind-mounted."""
        hosts = self.containers.data_dir(config.id) / "hosts"
        if not hosts.is_file():
            return
        active = [e for e in self._endpoints_of_container(config.id) if e.active is not None]
        addresses = [a for e in active if e.active is not None for a in e.active.addresses()]
        hosts.write_text(self._hosts(config, addresses))

    def _point_resolv_at_dns(self, config: ContainerConfig, ep: Endpoint, network: Network) -> None:
        """A container that had no embedded DNS (default bridge) now asks it, as dockerd
        rewrites resolv.conf when such a container joins a user-defined network. Written in
        place: the file is bind-mounted, so its inode must stay."""
        candidates = (
            ep.active.gateway if ep.active is not None else None,
            network.ipv4.gateway if network.ipv4 is not None else None,
        )
        gateway = next((g for g in candidates if isinstance(g, IPv4Address)), None)
        resolv = self.containers.data_dir(config.id) / "resolv.conf"
        if gateway is not None and resolv.is_file():
            resolv.write_text(self._resolv(config, gateway))

    def _detach_live(self, config: ContainerConfig, ep: Endpoint, network: Network) -> None:
        if ep.active is None:
            return
        if ep.active.ports:
            self._driver.unpublish(config.id)
        self._drop_clients([ep])
        if ep.active.veth:
            with contextlib.suppress(WharfError):
                self._driver.disconnect(ep.active.veth)
        self._save_endpoint(ep.deactivated())
        self._refresh_dns(network)
        self._register_clients(config.id, config.host_config.dns)
        self._rewrite_hosts(config)

    def _forbid_shared(self, config: ContainerConfig) -> None:
        mode = primary_name(config.host_config.network_mode)
        if mode in (HOST, NONE) or mode.startswith("container:"):
            raise Forbidden(
                "container sharing network namespace with another container or host cannot be"
                " connected to any other network"
            )
