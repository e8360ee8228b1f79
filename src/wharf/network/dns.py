"""The embedded DNS server: container names on user networks, everything else forwarded.

Docker runs a resolver at 127.0.0.11 inside each container's namespace; wharfd instead serves
one endpoint (UDP and TCP, port 53) on each user network's gateway address, in its own event
loop, and the container's resolv.conf names that gateway (``etcfiles.resolv_conf``).

Imports: stdlib, ``wharf.errdefs`` and ``wharf.network.dns_wire``.

How a query arriving on network N's listener from client address C is answered::

    searched networks   C's networks if the engine registered C (set_client), else (N,)
    A, AAAA, ANY (as A) name known in a searched network -> its addresses, rotated per query;
                        none of that family -> NOERROR with no answers (Docker does the same)
    PTR of a known address (in-addr.arpa / ip6.arpa) -> "<name>" or "<name>.<domain>"
    other types for a known name -> NOERROR, no answers (forwarding would fetch an NXDOMAIN
                        that contradicts our own A answer)
    anything else       forwarded; on an internal network -> SERVFAIL at once (Docker never
                        forwards from the host for internal networks; its in-container attempt
                        cannot get out, so its clients see SERVFAIL after a timeout)
    undecodable -> FORMERR; opcode not QUERY -> NOTIMP; not exactly one question -> FORMERR;
    messages with QR set and runts shorter than a header -> dropped (no reflection)

Forwarding: the client's bytes under a fresh random id, over UDP, to each upstream in turn
(C's own if set_client gave some, else the server's; the first three, like resolv.conf),
``forward_timeout`` seconds each. An answer whose id, QR bit and question match is relayed with
the client's id; SERVFAIL or REFUSED moves on to the next upstream; none left -> SERVFAIL. A
truncated (TC) UDP answer is fetched again over TCP when the client asked over TCP; a UDP
client gets the TC answer and retries over TCP itself, as stub resolvers do. At most
``max_pending`` queries are forwarded at once; past that the answer is REFUSED (as Docker).

Invariants: answers from the table are computed synchronously in the loop with no I/O;
``Records`` is safe to update from any thread (readers see whole snapshots, never a half
update); an internal network's listener never sends a packet anywhere but to its clients;
we never forward to one of our own listening endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import cast

from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound, Unavailable
from wharf.network.dns_wire import (
    MAX_MESSAGE,
    UDP_PAYLOAD_MIN,
    Header,
    MalformedMessage,
    Message,
    Opcode,
    QClass,
    QType,
    Question,
    Rcode,
    ResourceRecord,
    decode_header,
    decode_message,
    encode_message,
    error_reply,
    reply_header,
    reply_matches,
    reverse_pointer_address,
)

Address = IPv4Address | IPv6Address

TTL = 600  # Docker's answer TTL for container names
MAX_UPSTREAMS = 3  # resolv.conf's MAXNS; Docker's maxExtDNS
EDNS_PAYLOAD = 1232  # what we advertise and honour at most over UDP (DNS flag day 2020)


# --- the name table ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    v4: tuple[IPv4Address, ...]
    v6: tuple[IPv6Address, ...]


@dataclass(frozen=True, slots=True)
class _Table:
    names: Mapping[str, _Entry]
    ptr: Mapping[Address, str]
    domain: str
    turn: Iterator[int]  # itertools.count: next() is atomic under the GIL


def _normalize(name: str) -> str:
    name = name.lower()
    return name[:-1] if name.endswith(".") else name


def _rotate(items: Sequence[Address], turn: int) -> list[Address]:
    if len(items) < 2:
        return list(items)
    k = turn % len(items)
    return [*items[k:], *items[:k]]


class Records:
    """Names per network, replaced whole by the engine as containers come and go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Copy-on-write: writers build a new dict under the lock and swap it in; readers
        # take one reference and never lock, so the event loop never waits on a writer.
        self._tables: dict[str, _Table] = {}

    def set_network(
        self,
        network_id: str,
        names: Mapping[str, Sequence[Address]],
        *,
        domain: str = "",
    ) -> None:
        """Replace ``network_id``'s names. Each name may carry several addresses (a compose
        service: all are answered, rotated). The first name given for an address is its PTR
        name, so list container names before aliases. With ``domain`` (the network's name, as
        Docker does) ``<name>.<domain>`` resolves too and PTR answers ``<name>.<domain>``."""
        table: dict[str, _Entry] = {}
        ptr: dict[Address, str] = {}
        for raw, addresses in names.items():
            name = _normalize(raw)
            if not name:
                raise InvalidArgument(f"empty DNS name for network {network_id}")
            v4 = tuple(a for a in addresses if isinstance(a, IPv4Address))
            v6 = tuple(a for a in addresses if isinstance(a, IPv6Address))
            old = table.get(name)
            if old is not None:
                v4, v6 = old.v4 + v4, old.v6 + v6
            table[name] = _Entry(v4, v6)
            for a in addresses:
                ptr.setdefault(a, name)
        new = _Table(table, ptr, _normalize(domain), itertools.count())
        with self._lock:
            self._tables = {**self._tables, network_id: new}

    def drop_network(self, network_id: str) -> None:
        with self._lock:
            if network_id in self._tables:
                self._tables = {k: v for k, v in self._tables.items() if k != network_id}

    def networks(self) -> list[str]:
        return list(self._tables)

    def lookup(self, network_id: str, name: str, qtype: int) -> list[Address]:
        """Addresses of ``name`` for an A (or ANY) or AAAA query; [] when unknown."""
        return self.lookup_in((network_id,), name, qtype) or []

    def contains(self, network_id: str, name: str) -> bool:
        return self.lookup_in((network_id,), name, QType.A) is not None

    def reverse(self, network_id: str, address: Address) -> str | None:
        return self.reverse_in((network_id,), address)

    def lookup_in(self, networks: Iterable[str], name: str, qtype: int) -> list[Address] | None:
        """Like ``lookup`` over several networks (first that knows the name wins); None when
        no network knows the name, [] when it is known but has no address of that type."""
        tables = self._tables
        key = _normalize(name)
        for network_id in networks:
            table = tables.get(network_id)
            if table is None:
                continue
            entry = table.names.get(key)
            if entry is None and table.domain and key.endswith("." + table.domain):
                entry = table.names.get(key[: -len(table.domain) - 1])
            if entry is None:
                continue
            if qtype in (QType.A, QType.ANY):
                return _rotate(entry.v4, next(table.turn))
            if qtype == QType.AAAA:
                return _rotate(entry.v6, next(table.turn))
            return []
        return None

    def reverse_in(self, networks: Iterable[str], address: Address) -> str | None:
        tables = self._tables
        for network_id in networks:
            table = tables.get(network_id)
            name = table.ptr.get(address) if table is not None else None
            if name is not None:
                return f"{name}.{table.domain}" if table and table.domain else name
        return None


# --- answering (no I/O) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forward:
    """The decision to send ``data`` (whose decoded form is ``query``) upstream."""

    query: Message
    data: bytes


def answer_query(
    records: Records,
    networks: Sequence[str],
    data: bytes,
    *,
    may_forward: bool = True,
    tcp: bool = False,
) -> bytes | Forward | None:
    """Decide what to do with one query: an answer to send, a ``Forward``, or None (drop)."""
    try:
        header = decode_header(data)
    except MalformedMessage:
        return None
    if header.qr:
        return None
    try:
        query = decode_message(data)
    except MalformedMessage:
        return encode_message(Message(reply_header(header, Rcode.FORMERR)))
    if header.opcode != Opcode.QUERY:
        return error_reply(query, Rcode.NOTIMP)
    if len(query.questions) != 1:
        return error_reply(query, Rcode.FORMERR)
    local = _local_answer(records, networks, query)
    if local is not None:
        limit = MAX_MESSAGE
        if not tcp:
            limit = max(UDP_PAYLOAD_MIN, min(query.edns_payload() or 0, EDNS_PAYLOAD))
        return encode_message(local, limit=limit)
    if not may_forward:
        return error_reply(query, Rcode.SERVFAIL)
    return Forward(query, data)


def _local_answer(records: Records, networks: Sequence[str], query: Message) -> Message | None:
    q = query.questions[0]
    if q.qclass not in (QClass.IN, QClass.ANY):
        return None
    answers: tuple[ResourceRecord, ...]
    pointer = reverse_pointer_address(q.name) if q.qtype == QType.PTR else None
    if pointer is not None:
        target = records.reverse_in(networks, pointer)
        if target is None:
            return None
        answers = (ResourceRecord.ptr(q.name, target, TTL),)
    else:
        found = records.lookup_in(networks, q.name, q.qtype)
        if found is None:
            return None
        answers = tuple(
            ResourceRecord.a(q.name, a, TTL)
            if isinstance(a, IPv4Address)
            else ResourceRecord.aaaa(q.name, a, TTL)
            for a in found
        )
    opt = (ResourceRecord.opt(EDNS_PAYLOAD),) if query.edns_payload() is not None else ()
    return Message(reply_header(query.header, Rcode.NOERROR), (q,), answers, (), opt)


# --- upstreams -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Upstream:
        """``ip``, ``ipv4:port``, ``ipv6`` or ``[ipv6]:port``."""
        host, port = text.strip(), 53
        if host.startswith("["):
            host, sep, rest = host[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise InvalidArgument(f"invalid DNS server address {text!r}")
            if rest:
                port = _port(rest[1:], text)
        elif host.count(":") == 1:
            host, _, rest = host.partition(":")
            port = _port(rest, text)
        try:
            return cls(str(ip_address(host)), port)
        except ValueError as exc:
            raise InvalidArgument(f"invalid DNS server address {text!r}") from exc

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return self.host if self.port == 53 else f"{host}:{self.port}"


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid port in DNS server address {whole!r}")
    return int(text)


def _checker(ident: int, question: Question) -> Callable[[bytes], bool]:
    return lambda reply: reply_matches(reply, ident, question)


class _UpstreamProtocol(asyncio.DatagramProtocol):
    def __init__(self, matches: Callable[[bytes], bool], reply: asyncio.Future[bytes]) -> None:
        self._matches = matches
        self._reply = reply

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self._reply.done() and self._matches(data):
            self._reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable: fail now rather than at the timeout.
        if not self._reply.done():
            self._reply.set_exception(exc)


async def _udp_exchange(up: Upstream, payload: bytes, matches: Callable[[bytes], bool]) -> bytes:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UpstreamProtocol(matches, reply), remote_addr=(up.host, up.port)
    )
    try:
        transport.sendto(payload)
        return await reply
    finally:
        transport.close()


async def _tcp_exchange(up: Upstream, payload: bytes, matches: Callable[[bytes], bool]) -> bytes:
    reader, writer = await asyncio.open_connection(up.host, up.port)
    try:
        writer.write(len(payload).to_bytes(2, "big") + payload)
        await writer.drain()
        size = int.from_bytes(await reader.readexactly(2), "big")
        data = await reader.readexactly(size)
    finally:
        writer.close()
    if not matches(data):
        raise ConnectionError("upstream answered another question")
    return data


# --- the server ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Client:
    networks: tuple[str, ...]
    upstreams: tuple[Upstream, ...] | None


class _Listener:
    __slots__ = ("address", "conns", "internal", "network_id", "port", "tcp", "udp")

    def __init__(self, network_id: str, address: Address, internal: bool) -> None:
        self.network_id = network_id
        self.address = address
        self.internal = internal
        self.port = 0
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.Server | None = None
        self.conns: set[asyncio.StreamWriter] = set()


def _client_address(host: object) -> Address | None:
    try:
        return ip_address(str(host))
    except ValueError:
        return None


class _UdpServerProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer, listener: _Listener) -> None:
        self._server = server
        self._listener = listener
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        client = _client_address(addr[0])
        result = self._server.handle(self._listener.network_id, data, client=client)
        if result is None:
            return
        if isinstance(result, bytes):
            self._send(result, addr)
            return
        self._server._start_forward(result, client, False, lambda b: self._send(b, addr))

    def _send(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error about a client that went away; nothing to do


class DnsServer:
    """Serves ``Records`` on listeners (one or more per network) and forwards the rest."""

    def __init__(
        self,
        records: Records,
        *,
        upstreams: Sequence[str] = (),
        forward_timeout: float = 2.0,
        max_pending: int = 1024,
        tcp_idle_timeout: float = 10.0,
    ) -> None:
        self.records = records
        self._upstreams = tuple(Upstream.parse(u) for u in upstreams)
        self._timeout = forward_timeout
        self._max_pending = max_pending
        self._tcp_idle = tcp_idle_timeout
        self._listeners: dict[str, list[_Listener]] = {}
        self._clients: dict[Address, _Client] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # configuration (any thread; each is one reference swap)

    def set_upstreams(self, upstreams: Sequence[str]) -> None:
        """Replace the default upstreams (the host's resolv.conf changed)."""
        self._upstreams = tuple(Upstream.parse(u) for u in upstreams)

    def set_client(
        self,
        address: Address,
        *,
        networks: Sequence[str] = (),
        upstreams: Sequence[str] | None = None,
    ) -> None:
        """Register a container address: queries from it search all of ``networks`` (a
        container on several networks resolves names on each, as in Docker) and forward to
        ``upstreams`` (its ``--dns`` servers) instead of the server's."""
        parsed = None if upstreams is None else tuple(Upstream.parse(u) for u in upstreams)
        self._clients = {**self._clients, address: _Client(tuple(networks), parsed)}

    def drop_client(self, address: Address) -> None:
        self._clients = {k: v for k, v in self._clients.items() if k != address}

    def listening(self, network_id: str) -> list[tuple[Address, int]]:
        return [(lst.address, lst.port) for lst in self._listeners.get(network_id, [])]

    # answering

    def handle(
        self, network_id: str, data: bytes, *, client: Address | None = None, tcp: bool = False
    ) -> bytes | Forward | None:
        """The no-I/O part of answering a query that arrived on ``network_id``'s listener."""
        known = self._clients.get(client) if client is not None else None
        networks = known.networks if known is not None and known.networks else (network_id,)
        internal = any(lst.internal for lst in self._listeners.get(network_id, ()))
        return answer_query(self.records, networks, data, may_forward=not internal, tcp=tcp)

    async def respond(
        self, network_id: str, data: bytes, *, client: Address | None = None, tcp: bool = False
    ) -> bytes | None:
        """``handle`` plus forwarding: the bytes to send back, or None to send nothing."""
        result = self.handle(network_id, data, client=client, tcp=tcp)
        if result is None or isinstance(result, bytes):
            return result
        return await self.forward(result, client=client, tcp=tcp)

    async def forward(
        self, fwd: Forward, *, client: Address | None = None, tcp: bool = False
    ) -> bytes:
        """Ask the upstreams; the first usable answer with the client's id, else SERVFAIL."""
        question = fwd.query.questions[0]
        own = {(str(lst.address), lst.port) for group in self._listeners.values() for lst in group}
        known = self._clients.get(client) if client is not None else None
        upstreams = known.upstreams if known is not None and known.upstreams else self._upstreams
        tried = 0
        for up in upstreams:
            if (up.host, up.port) in own:
                continue
            if tried == MAX_UPSTREAMS:
                break
            tried += 1
            reply = await self._ask(up, fwd.data, question, tcp=tcp)
            if reply is None or reply[3] & 0xF in (Rcode.SERVFAIL, Rcode.REFUSED):
                continue
            if reply[4:6] == b"\x00\x00":  # no question: the upstream could not parse it
                continue
            return fwd.data[:2] + reply[2:]
        return error_reply(fwd.query, Rcode.SERVFAIL)

    async def _ask(
        self, up: Upstream, data: bytes, question: Question, *, tcp: bool
    ) -> bytes | None:
        ident = secrets.randbelow(0x10000)
        payload = ident.to_bytes(2, "big") + data[2:]
        matches = _checker(ident, question)
        reply: bytes | None = None
        try:
            async with asyncio.timeout(self._timeout):
                reply = await _udp_exchange(up, payload, matches)
        except (TimeoutError, OSError):
            return None
        if tcp and reply[2] & 0x02:  # TC: the client is on TCP, so it wants the whole answer
            with contextlib.suppress(TimeoutError, OSError, asyncio.IncompleteReadError):
                async with asyncio.timeout(self._timeout):
                    reply = await _tcp_exchange(up, payload, matches)
        return reply

    def _start_forward(
        self,
        fwd: Forward,
        client: Address | None,
        tcp: bool,
        send: Callable[[bytes], None],
    ) -> None:
        if self._closed or len(self._tasks) >= self._max_pending:
            send(error_reply(fwd.query, Rcode.REFUSED))
            return

        async def run() -> None:
            send(await self.forward(fwd, client=client, tcp=tcp))

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # listeners

    async def add_listener(
        self, network_id: str, address: Address, *, port: int = 53, internal: bool = False
    ) -> int:
        """Serve ``network_id`` on ``address``:``port`` over UDP and TCP; return the port
        (``port=0`` picks a free one, for tests). ``internal`` networks never forward.
        Idempotent for an address already served for that network."""
        if self._closed:
            raise Unavailable("the DNS server is closed")
        for lst in self._listeners.get(network_id, []):
            if lst.address == address and port in (0, lst.port):
                lst.internal = internal
                return lst.port
        listener = _Listener(network_id, address, internal)
        loop = asyncio.get_running_loop()
        host = str(address)
        attempts = 8 if port == 0 else 1
        for attempt in range(attempts):
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpServerProtocol(self, listener), local_addr=(host, port)
                )
            except OSError as exc:
                raise _bind_error(host, port, "UDP", exc) from exc
            bound = int(udp.get_extra_info("sockname")[1])
            try:
                tcp = await asyncio.start_server(
                    lambda r, w: self._serve_tcp(listener, r, w), host=host, port=bound
                )
            except OSError as exc:
                udp.close()
                if exc.errno == errno.EADDRINUSE and attempt + 1 < attempts:
                    continue  # the UDP port was free but not the TCP one: pick another
                raise _bind_error(host, bound, "TCP", exc) from exc
            listener.udp, listener.tcp, listener.port = udp, tcp, bound
            break
        self._listeners.setdefault(network_id, []).append(listener)
        return listener.port

    async def remove_listener(self, network_id: str) -> None:
        """Stop serving ``network_id`` (all its addresses); unknown networks are a no-op."""
        for lst in self._listeners.pop(network_id, []):
            await _close_listener(lst)

    async def close(self) -> None:
        self._closed = True
        for network_id in list(self._listeners):
            await self.remove_listener(network_id)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve_tcp(
        self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        listener.conns.add(writer)
        client = _client_address((writer.get_extra_info("peername") or ("",))[0])
        try:
            while True:
                async with asyncio.timeout(self._tcp_idle):
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    data = await reader.readexactly(size)
                reply = await self.respond(listener.network_id, data, client=client, tcp=True)
                if reply is None:
                    break
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            listener.conns.discard(writer)
            writer.close()


async def _close_listener(lst: _Listener) -> None:
    if lst.udp is not None:
        lst.udp.close()
    for writer in list(lst.conns):
        writer.close()
    if lst.tcp is not None:
        lst.tcp.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await lst.tcp.wait_closed()


def _bind_error(host: str, port: int, proto: str, exc: OSError) -> Exception:
    where = f"{host}:{port}/{proto.lower()}"
    if exc.errno == errno.EADDRINUSE:
        return Conflict(f"cannot serve DNS on {where}: address already in use")
    if exc.errno == errno.EADDRNOTAVAIL:
        return NotFound(f"cannot serve DNS on {where}: no such address on this host")
    return EngineFailure(f"cannot serve DNS on {where}: {exc.strerror or exc}")


# --- a tiny blocking client (diagnostics and tests) ----------------------------------


def exchange(
    address: str,
    port: int,
    query: bytes,
    *,
    timeout: float = 2.0,
    tcp: bool = False,
    source: str | None = None,
) -> bytes:
    """Send one query to ``address``:``port`` (from ``source`` if given) and return the raw
    answer carrying the query's id."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    try:
        with socket.socket(family, kind) as sock:
            sock.settimeout(timeout)
            if source is not None:
                sock.bind((source, 0))
            sock.connect((address, port))
            if tcp:
                sock.sendall(len(query).to_bytes(2, "big") + query)
                return _recv_exact(sock, int.from_bytes(_recv_exact(sock, 2), "big"))
            sock.send(query)
            while True:
                data = sock.recv(MAX_MESSAGE)
                if data[:2] == query[:2]:
                    return data
    except OSError as exc:
        raise Unavailable(f"no answer from DNS server {address}:{port}: {exc}") from exc


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-message")
        buf += chunk
    return bytes(buf)


def resolve_via(
    address: str,
    port: int,
    name: str,
    qtype: int = QType.A,
    *,
    timeout: float = 2.0,
    tcp: bool = False,
    source: str | None = None,
) -> list[str]:
    """Ask ``address``:``port`` like a stub resolver would (UDP, TCP again on TC) and return
    the answers as text (addresses, or names for PTR/CNAME). NXDOMAIN raises NotFound, any
    other error code or silence raises Unavailable."""
    ident = secrets.randbelow(0x10000)
    query = encode_message(Message(Header(id=ident, rd=True), (Question(name, qtype),)))
    reply = decode_message(exchange(address, port, query, timeout=timeout, tcp=tcp, source=source))
    if reply.header.tc and not tcp:
        raw = exchange(address, port, query, timeout=timeout, tcp=True, source=source)
        reply = decode_message(raw)
    rcode = reply.header.rcode
    if rcode == Rcode.NXDOMAIN:
        raise NotFound(f"{name}: no such name (NXDOMAIN from {address}:{port})")
    if rcode != Rcode.NOERROR:
        label = Rcode(rcode).name if rcode in Rcode._value2member_map_ else str(rcode)
        raise Unavailable(f"DNS server {address}:{port} answered {label} for {name}")
    out: list[str] = []
    for rr in reply.answers:
        if rr.rtype in (QType.A, QType.AAAA):
            out.append(str(rr.address()))
        elif rr.rtype in (QType.PTR, QType.CNAME, QType.NS):
            out.append(rr.target())
    return out
