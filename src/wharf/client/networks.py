"""Network calls of ``EngineClient`` (a mixin): ``/networks`` of the Docker Engine API v1.45,
and wharf's ``POST /containers/{id}/ports`` (live port changes); results in
``client.network_models``.

Imports only the standard library and ``wharf.client`` (the shared plumbing from
``client.mixin``; never ``client.api``, which imports this module).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wharf.client.mixin import ClientMixin, filters_query
from wharf.client.transport import quote_path
from wharf.client.wire import Fields

if TYPE_CHECKING:
    from wharf.client.network_models import Network, PortMapping

Filters = Mapping[str, Sequence[str]]


class NetworksMixin(ClientMixin):
    """The network half of ``EngineClient``; relies on its ``request``/``_json`` plumbing."""

    def network_create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnets: Sequence[str] = (),
        gateways: Sequence[str] = (),
        ip_ranges: Sequence[str] = (),
        internal: bool = False,
        attachable: bool = False,
        ipv6: bool = False,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        ipam_driver: str = "default",
        ipam_options: Mapping[str, str] | None = None,
    ) -> str:
        """Create a network; returns its ID. The i-th gateway and range go with the i-th
        subnet (``docker network create --subnet a --gateway g``)."""
        pools = []
        for index, subnet in enumerate(subnets):
            pool = {"Subnet": subnet}
            if index < len(gateways) and gateways[index]:
                pool["Gateway"] = gateways[index]
            if index < len(ip_ranges) and ip_ranges[index]:
                pool["IPRange"] = ip_ranges[index]
            pools.append(pool)
        payload = {
            "Name": name,
            "Driver": driver,
            "Internal": internal,
            "Attachable": attachable,
            "EnableIPv6": ipv6,
            "IPAM": {
                "Driver": ipam_driver,
                "Config": pools,
                "Options": dict(ipam_options or {}),
            },
            "Options": dict(options or {}),
            "Labels": dict(labels or {}),
        }
        raw = Fields(self._post_json("/networks/create", payload), "network create")
        return raw.text("Id")

    def network_list(self, *, filters: Filters | None = None) -> list[Network]:
        from wharf.client.network_models import Network

        return Network.list_from_wire(self._json("GET", "/networks", query=filters_query(filters)))

    def network_inspect(self, name: str) -> Network:
        from wharf.client.network_models import Network

        return Network.from_wire(self._json("GET", f"/networks/{quote_path(name)}"))

    def network_remove(self, name: str) -> None:
        self.request("DELETE", f"/networks/{quote_path(name)}").close()

    def networks_prune(self, *, filters: Filters | None = None) -> list[str]:
        query = filters_query(filters)
        raw = Fields(self._json("POST", "/networks/prune", query=query), "network prune")
        return list(raw.texts("NetworksDeleted"))

    def network_connect(
        self,
        network: str,
        container: str,
        *,
        aliases: Sequence[str] = (),
        ipv4_address: str = "",
        ipv6_address: str = "",
    ) -> None:
        endpoint: dict[str, Any] = {}
        if aliases:
            endpoint["Aliases"] = list(aliases)
        ipam = {
            key: value
            for key, value in (("IPv4Address", ipv4_address), ("IPv6Address", ipv6_address))
            if value
        }
        if ipam:
            endpoint["IPAMConfig"] = ipam
        self._post_json(
            f"/networks/{quote_path(network)}/connect",
            {"Container": container, "EndpointConfig": endpoint},
        )

    def network_disconnect(self, network: str, container: str, *, force: bool = False) -> None:
        self._post_json(
            f"/networks/{quote_path(network)}/disconnect", {"Container": container, "Force": force}
        )

    def container_ports_update(
        self,
        container: str,
        *,
        add: Sequence[tuple[str, str, str]] = (),
        remove: Sequence[str] = (),
    ) -> list[PortMapping]:
        """Publish ``add`` (``("80/tcp", host_ip, host_port)``) and unpublish ``remove``
        (``"80/tcp"``) on a container, running or not (wharf only)."""
        from wharf.client.network_models import port_mappings

        bindings: dict[str, list[dict[str, str]]] = {}
        for port, host_ip, host_port in add:
            bindings.setdefault(port, []).append({"HostIp": host_ip, "HostPort": host_port})
        raw = self._post_json(
            f"/containers/{quote_path(container)}/ports",
            {"PortBindings": bindings, "Remove": list(remove)},
        )
        return port_mappings(raw)
