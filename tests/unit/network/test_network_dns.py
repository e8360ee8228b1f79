"""The embedded DNS server and its wire codec.

Sockets are only ever opened on 127.x.y.z addresses with kernel-chosen ports; upstreams are
other instances of the server or fake responders on loopback.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wharf.errdefs import Conflict, InvalidArgument, NotFound, Unavailable
from wharf.network.dns import (
    TTL,
    DnsServer,
    Forward,
    Records,
    Upstream,
    answer_query,
    exchange,
    resolve_via,
)
from wharf.network.dns_wire import (
    Header,
    MalformedMessage,
    Message,
    Opcode,
    QType,
    Question,
    Rcode,
    ResourceRecord,
    decode_message,
    encode_message,
    encode_name,
    reply_matches,
    reverse_pointer_address,
)

V4 = IPv4Address
V6 = IPv6Address


def _loopback() -> str:
    """A random 127/8 address (all of them are on lo), away from 127.0.0.x resolvers."""
    return f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(2, 254)}"


def _query(
    name: str, qtype: int = QType.A, *, ident: int = 0x1234, edns: int | None = None
) -> bytes:
    extra = (ResourceRecord.opt(edns),) if edns is not None else ()
    msg = Message(Header(id=ident, rd=True), (Question(name, qtype),), (), (), extra)
    return encode_message(msg)


def _records(**networks: dict[str, list[str]]) -> Records:
    records = Records()
    for network_id, names in networks.items():
        records.set_network(
            network_id, {n: [ip_address(a) for a in addrs] for n, addrs in names.items()}
        )
    return records


def _run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 20))


# --- codec ---------------------------------------------------------------------------


def test_message_round_trips_with_a_aaaa_ptr_and_opt() -> None:
    msg = Message(
        Header(id=0xBEEF, qr=True, aa=True, rd=True, ra=True, cd=True, rcode=Rcode.NXDOMAIN),
        (Question("Web.Example", QType.A),),
        (
            ResourceRecord.a("Web.Example", V4("10.0.0.2"), 600),
            ResourceRecord.aaaa("web.example", V6("fd00::2"), 60),
        ),
        (ResourceRecord.ptr("2.0.0.10.in-addr.arpa", "web.example", 5),),
        (ResourceRecord.opt(1232),),
    )
    decoded = decode_message(encode_message(msg))
    assert decoded == msg
    assert decoded.edns_payload() == 1232
    assert decoded.answers[1].address() == V6("fd00::2")
    assert decoded.authorities[0].target() == "web.example"


def test_names_are_compressed_on_write_and_expanded_on_read() -> None:
    answers = tuple(ResourceRecord.a("service.net", V4(f"10.0.0.{i}"), 1) for i in range(5))
    data = encode_message(Message(Header(id=1), (Question("service.net", 1),), answers))
    # Each answer's name is a 2-byte pointer to the question's name at offset 12.
    assert data.count(b"\xc0\x0c") == 5
    assert len(data) == 12 + len(encode_name("service.net")) + 4 + 5 * (2 + 10 + 4)
    assert decode_message(data).answers == answers


def test_compressed_ptr_rdata_is_expanded() -> None:
    # Hand-made answer: question "x.example", PTR answer whose target is "host" + pointer
    # to "example" inside the question (offset 12 + 2 = 14).
    question = encode_name("x.example") + struct.pack("!HH", 12, 1)
    rdata = b"\x04host\xc0\x0e"
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(rdata)) + rdata
    data = struct.pack("!HHHHHH", 7, 0x8180, 1, 1, 0, 0) + question + answer
    rr = decode_message(data).answers[0]
    assert rr.target() == "host.example"
    assert rr.rdata == encode_name("host.example")


@pytest.mark.parametrize(
    "tail",
    [
        b"\xc0\x0c",  # points at itself
        b"\xc0\x20",  # points forwards
        b"\x03abc",  # runs off the end
        b"\x40abc\x00",  # extended label type
        b"\xc0",  # half a pointer
    ],
)
def test_bad_names_are_malformed(tail: bytes) -> None:
    data = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + tail + b"\x00\x01\x00\x01"
    with pytest.raises(MalformedMessage):
        decode_message(data)


def test_pointer_chain_must_go_backwards() -> None:
    # Name A at 12 ends with a pointer to 14 (inside itself, after the segment start: loop).
    data = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(MalformedMessage):
        decode_message(data)


def test_names_longer_than_255_octets_are_refused_both_ways() -> None:
    long_name = ".".join(["a" * 63] * 4)  # 4*64 + 1 = 257 octets
    with pytest.raises(InvalidArgument):
        encode_name(long_name)
    labels = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"
    data = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + labels + b"\x00\x01\x00\x01"
    with pytest.raises(MalformedMessage):
        decode_message(data)


def test_counts_beyond_the_data_are_malformed() -> None:
    with pytest.raises(MalformedMessage):
        decode_message(_query("web")[:-2])
    header_says_two = bytearray(_query("web"))
    header_says_two[5] = 2
    with pytest.raises(MalformedMessage):
        decode_message(bytes(header_says_two))


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_.\\", min_size=1, max_size=20)


@given(st.lists(_label, min_size=0, max_size=6))
def test_names_round_trip(labels: list[str]) -> None:
    name = ".".join(label.replace("\\", "\\\\").replace(".", "\\.") for label in labels)
    msg = Message(Header(id=9), (Question(name, QType.TXT),))
    assert decode_message(encode_message(msg)).questions[0].name == name


@given(st.binary(max_size=600))
@settings(max_examples=400)
def test_decoding_random_bytes_raises_only_malformed(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except MalformedMessage:
        return
    # Whatever decodes re-encodes to the same message.
    assert decode_message(encode_message(msg)) == msg


def test_truncation_keeps_what_fits_and_sets_tc() -> None:
    answers = tuple(ResourceRecord.a("svc", V4(int(V4("10.0.0.0")) + i), 1) for i in range(100))
    msg = Message(Header(id=3, qr=True), (Question("svc", 1),), answers)
    data = encode_message(msg, limit=512)
    assert len(data) <= 512
    decoded = decode_message(data)
    assert decoded.header.tc
    assert 20 < len(decoded.answers) < 100
    assert decoded.answers == answers[: len(decoded.answers)]
    assert not decode_message(encode_message(msg)).header.tc


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("4.3.2.10.in-addr.arpa", V4("10.2.3.4")),
        ("4.3.2.10.IN-ADDR.ARPA.", V4("10.2.3.4")),
        ("3.2.10.in-addr.arpa", None),
        ("04.3.2.10.in-addr.arpa", None),
        ("256.3.2.10.in-addr.arpa", None),
        (".".join("fdd00000000000000000000000000001"[::-1]) + ".ip6.arpa", V6("fdd0::1")),
        (V6("2001:db8::ab").reverse_pointer.upper(), V6("2001:db8::ab")),
        ("1.0.0.ip6.arpa", None),
        ("web.example", None),
    ],
)
def test_reverse_pointer_address(name: str, expected: object) -> None:
    assert reverse_pointer_address(name) == expected


def test_reply_matches_checks_id_qr_and_question() -> None:
    q = Question("web", QType.A)
    reply = encode_message(Message(Header(id=5, qr=True), (Question("WEB", QType.A),)))
    assert reply_matches(reply, 5, q)
    assert not reply_matches(reply, 6, q)
    assert not reply_matches(_query("web", ident=5), 5, q)  # not a response
    assert not reply_matches(reply, 5, Question("web", QType.AAAA))


# --- the name table ------------------------------------------------------------------


def test_lookup_is_case_insensitive_and_ignores_the_trailing_dot() -> None:
    records = _records(n1={"Web": ["10.0.0.2", "fd00::2"]})
    assert records.lookup("n1", "WEB.", QType.A) == [V4("10.0.0.2")]
    assert records.lookup("n1", "web", QType.AAAA) == [V6("fd00::2")]
    assert records.lookup("n1", "web", QType.ANY) == [V4("10.0.0.2")]
    assert records.lookup("n1", "db", QType.A) == []
    assert records.lookup("n2", "web", QType.A) == []


def test_known_name_without_that_family_is_known_but_empty() -> None:
    records = _records(n1={"web": ["10.0.0.2"]})
    assert records.contains("n1", "web")
    assert records.lookup_in(["n1"], "web", QType.AAAA) == []
    assert records.lookup_in(["n1"], "nope", QType.AAAA) is None


def test_service_names_return_every_address_rotating() -> None:
    records = _records(n1={"svc": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]})
    first = records.lookup("n1", "svc", QType.A)
    second = records.lookup("n1", "svc", QType.A)
    assert sorted(first) == sorted(second) == [V4("10.0.0.2"), V4("10.0.0.3"), V4("10.0.0.4")]
    assert first[0] != second[0]


def test_reverse_gives_the_first_name_and_the_domain() -> None:
    records = Records()
    ip = V4("10.0.0.2")
    records.set_network("n1", {"web-1": [ip], "web": [ip], "alias": [ip]}, domain="mynet")
    assert records.reverse("n1", ip) == "web-1.mynet"
    assert records.reverse("n1", V4("10.0.0.9")) is None
    assert records.lookup("n1", "alias.mynet", QType.A) == [ip]
    assert records.lookup("n1", "alias.othernet", QType.A) == []


def test_set_network_replaces_and_drop_network_forgets() -> None:
    records = _records(n1={"web": ["10.0.0.2"]}, n2={"db": ["10.1.0.2"]})
    records.set_network("n1", {"api": [V4("10.0.0.3")]})
    assert records.lookup("n1", "web", QType.A) == []
    assert records.lookup("n1", "api", QType.A) == [V4("10.0.0.3")]
    records.drop_network("n1")
    records.drop_network("never-there")
    assert records.networks() == ["n2"]
    assert records.reverse("n1", V4("10.0.0.3")) is None


def test_concurrent_updates_are_seen_whole() -> None:
    records = Records()
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        for i in range(2000):
            # Both names always point to the same generation's address.
            ip = V4(int(V4("10.0.0.0")) + (i % 250) + 1)
            records.set_network("n1", {"a": [ip], "b": [ip]})
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            a = records.lookup("n1", "a", QType.A)
            if len(a) > 1:
                errors.append(f"two addresses: {a}")

    threads = [
        threading.Thread(target=writer),
        *(threading.Thread(target=reader) for _ in range(3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert records.lookup("n1", "a", QType.A) == records.lookup("n1", "b", QType.A)


# --- answering without I/O -----------------------------------------------------------


def _decide(records: Records, data: bytes, **kw: bool) -> Message:
    result = answer_query(records, ["n1"], data, **kw)
    assert isinstance(result, bytes)
    return decode_message(result)


def test_a_answer_echoes_id_rd_and_the_question_case() -> None:
    records = _records(n1={"web": ["10.0.0.2"]})
    reply = _decide(records, _query("WeB", ident=0x4242))
    assert reply.header.id == 0x4242
    assert (reply.header.qr, reply.header.rd, reply.header.ra) == (True, True, True)
    assert reply.header.rcode == Rcode.NOERROR
    assert reply.questions == (Question("WeB", QType.A),)
    assert reply.answers == (ResourceRecord.a("WeB", V4("10.0.0.2"), TTL),)


def test_known_names_get_nodata_for_other_types() -> None:
    records = _records(n1={"web": ["10.0.0.2"]})
    for qtype in (QType.AAAA, QType.MX, QType.TXT):
        reply = _decide(records, _query("web", qtype))
        assert reply.header.rcode == Rcode.NOERROR
        assert reply.answers == ()


def test_unknown_names_are_forwarded_unless_internal() -> None:
    records = _records(n1={"web": ["10.0.0.2"]})
    data = _query("example.com")
    fwd = answer_query(records, ["n1"], data)
    assert isinstance(fwd, Forward)
    assert fwd.data == data
    assert fwd.query.questions[0].name == "example.com"
    reply = _decide(records, data, may_forward=False)
    assert reply.header.rcode == Rcode.SERVFAIL
    assert reply.questions == (Question("example.com", QType.A),)


def test_ptr_for_container_addresses() -> None:
    records = _records(n1={"web": ["10.0.0.2", "fd00::2"]})
    reply = _decide(records, _query("2.0.0.10.in-addr.arpa", QType.PTR))
    assert [rr.target() for rr in reply.answers] == ["web"]
    v6_name = V6("fd00::2").reverse_pointer
    reply = _decide(records, _query(v6_name, QType.PTR))
    assert [rr.target() for rr in reply.answers] == ["web"]
    assert isinstance(answer_query(records, ["n1"], _query("9.0.0.10.in-addr.arpa", 12)), Forward)


def test_names_are_searched_in_the_given_networks_in_order() -> None:
    records = _records(n1={"web": ["10.0.0.2"]}, n2={"web": ["10.1.0.2"], "db": ["10.1.0.3"]})
    result = answer_query(records, ["n2", "n1"], _query("web"))
    assert isinstance(result, bytes)
    assert decode_message(result).answers[0].address() == V4("10.1.0.2")
    assert isinstance(answer_query(records, ["n1"], _query("db")), Forward)


def test_bad_queries() -> None:
    records = _records(n1={"web": ["10.0.0.2"]})
    good = _query("web")
    assert answer_query(records, ["n1"], good[:11]) is None  # runt
    response = bytearray(good)
    response[2] |= 0x80
    assert answer_query(records, ["n1"], bytes(response)) is None  # QR set: never answer
    garbage = good[:12] + b"\x3f"
    assert _decide(records, garbage).header.rcode == Rcode.FORMERR
    status = bytearray(good)
    status[2] |= Opcode.STATUS << 3
    assert _decide(records, bytes(status)).header.rcode == Rcode.NOTIMP
    two = Message(Header(id=1), (Question("web", 1), Question("db", 1)))
    assert _decide(records, encode_message(two)).header.rcode == Rcode.FORMERR


def test_udp_answers_are_truncated_to_the_client_size_tcp_ones_are_not() -> None:
    many = [str(V4(int(V4("10.0.0.0")) + i)) for i in range(1, 101)]
    records = _records(n1={"svc": many})
    plain = _decide(records, _query("svc"))
    assert plain.header.tc
    assert len(encode_message(plain)) <= 512
    edns = _decide(records, _query("svc", edns=4096))
    assert edns.header.tc  # 100 A records need ~1.6 kB; we honour at most 1232
    assert len(plain.answers) < len(edns.answers) < 100
    assert edns.edns_payload() is not None
    full = _decide(records, _query("svc"), tcp=True)
    assert not full.header.tc
    assert len(full.answers) == 100


def _mutations() -> st.SearchStrategy[bytes]:
    base = st.sampled_from(
        [_query("web"), _query("x.example", QType.PTR, edns=1232), _query("2.0.0.10.in-addr.arpa")]
    )

    def mutate(data: bytes, flips: list[tuple[int, int]], cut: int) -> bytes:
        buf = bytearray(data)
        for pos, value in flips:
            buf[pos % len(buf)] = value
        return bytes(buf[: max(cut, 0) or len(buf)])

    return st.builds(
        mutate,
        base,
        st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
        st.integers(-5, 60),
    )


@given(st.one_of(st.binary(max_size=300), _mutations()))
@settings(max_examples=500)
def test_any_bytes_give_none_an_answer_or_a_forward(data: bytes) -> None:
    records = _records(n1={"web": ["10.0.0.2"]})
    result = answer_query(records, ["n1"], data)
    if isinstance(result, bytes):
        reply = decode_message(result)
        assert reply.header.qr
        assert reply.header.id == int.from_bytes(data[:2], "big")
    else:
        assert result is None or isinstance(result, Forward)


# --- upstream addresses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("1.1.1.1", "1.1.1.1", 53),
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        ("::1", "::1", 53),
        ("[fd00::1]:54", "fd00::1", 54),
        ("[fd00::1]", "fd00::1", 53),
    ],
)
def test_upstream_parse(text: str, host: str, port: int) -> None:
    assert Upstream.parse(text) == Upstream(host, port)


@pytest.mark.parametrize("text", ["", "dns.google", "1.1.1.1:0", "1.1.1.1:x", "[::1", "[::1]x"])
def test_upstream_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument):
        Upstream.parse(text)


# --- the server on real sockets ------------------------------------------------------


@contextmanager
def _fake_upstream(
    reply: Callable[[bytes], bytes | None],
) -> Iterator[tuple[str, int, list[bytes]]]:
    """A UDP responder on loopback in a thread; records every packet it gets."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((_loopback(), 0))
    sock.settimeout(0.05)
    seen: list[bytes] = []
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            try:
                data, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            seen.append(data)
            out = reply(data)
            if out is not None:
                sock.sendto(out, addr)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        host, port = sock.getsockname()
        yield host, port, seen
    finally:
        done.set()
        thread.join()
        sock.close()


def _answer_with(address: str, rcode: int = Rcode.NOERROR) -> Callable[[bytes], bytes]:
    def reply(data: bytes) -> bytes:
        q = decode_message(data)
        answers = (ResourceRecord.a(q.questions[0].name, V4(address), 30),) if not rcode else ()
        header = Header(id=q.header.id, qr=True, rd=q.header.rd, ra=True, rcode=rcode)
        return encode_message(Message(header, q.questions, answers))

    return reply


async def _ask(address: str, port: int, name: str, qtype: int = QType.A, **kw: object) -> list[str]:
    return await asyncio.to_thread(resolve_via, address, port, name, qtype, **kw)  # type: ignore[arg-type]


def test_udp_and_tcp_lookups_and_reverse() -> None:
    async def body() -> None:
        server = DnsServer(_records(n1={"web": ["10.0.0.2", "fd00::2"]}))
        addr = _loopback()
        port = await server.add_listener("n1", V4(addr), port=0)
        try:
            assert await _ask(addr, port, "web") == ["10.0.0.2"]
            assert await _ask(addr, port, "WEB.", QType.AAAA, tcp=True) == ["fd00::2"]
            assert await _ask(addr, port, "2.0.0.10.in-addr.arpa", QType.PTR) == ["web"]
            assert server.listening("n1") == [(V4(addr), port)]
        finally:
            await server.close()

    _run(body)


def test_big_answers_go_over_tcp() -> None:
    async def body() -> None:
        many = [str(V4(int(V4("10.0.0.0")) + i)) for i in range(1, 101)]
        server = DnsServer(_records(n1={"svc": many}))
        addr = _loopback()
        port = await server.add_listener("n1", V4(addr), port=0)
        try:
            raw = await asyncio.to_thread(exchange, addr, port, _query("svc"))
            assert decode_message(raw).header.tc
            assert sorted(await _ask(addr, port, "svc"), key=ip_address) == many
        finally:
            await server.close()

    _run(body)


def test_unknown_names_are_forwarded_and_relayed_with_the_client_id() -> None:
    async def body() -> None:
        with _fake_upstream(_answer_with("192.0.2.7")) as (up_host, up_port, seen):
            server = DnsServer(Records(), upstreams=[f"{up_host}:{up_port}"])
            addr = _loopback()
            port = await server.add_listener("n1", V4(addr), port=0)
            try:
                raw = await asyncio.to_thread(exchange, addr, port, _query("ext.test", ident=77))
                reply = decode_message(raw)
                assert reply.header.id == 77
                assert [str(rr.address()) for rr in reply.answers] == ["192.0.2.7"]
                assert await _ask(addr, port, "ext.test", tcp=True) == ["192.0.2.7"]
                # The upstream saw our own random ids, not the client's.
                assert len(seen) == 2
                assert decode_message(seen[0]).questions[0].name == "ext.test"
            finally:
                await server.close()

    _run(body)


def test_silent_upstream_gives_servfail_after_the_timeout() -> None:
    async def body() -> None:
        with _fake_upstream(lambda data: None) as (up_host, up_port, seen):
            server = DnsServer(Records(), upstreams=[f"{up_host}:{up_port}"], forward_timeout=0.3)
            addr = _loopback()
            port = await server.add_listener("n1", V4(addr), port=0)
            try:
                start = time.monotonic()
                with pytest.raises(Unavailable, match="SERVFAIL"):
                    await _ask(addr, port, "ext.test")
                assert 0.25 < time.monotonic() - start < 2.0
                assert len(seen) == 1
            finally:
                await server.close()

    _run(body)


def test_failing_upstreams_are_skipped() -> None:
    async def body() -> None:
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.bind((_loopback(), 0))
        dead = "{}:{}".format(*closed.getsockname())
        closed.close()  # nothing listens there now: ICMP port unreachable
        with (
            _fake_upstream(_answer_with("0.0.0.0", Rcode.SERVFAIL)) as (h1, p1, seen1),
            _fake_upstream(_answer_with("192.0.2.9")) as (h2, p2, _),
        ):
            server = DnsServer(
                Records(), upstreams=[dead, f"{h1}:{p1}", f"{h2}:{p2}"], forward_timeout=1.0
            )
            addr = _loopback()
            port = await server.add_listener("n1", V4(addr), port=0)
            try:
                start = time.monotonic()
                assert await _ask(addr, port, "ext.test") == ["192.0.2.9"]
                assert time.monotonic() - start < 1.0  # no timeout was waited for
                assert len(seen1) == 1
            finally:
                await server.close()

    _run(body)


def test_internal_networks_never_forward() -> None:
    async def body() -> None:
        with _fake_upstream(_answer_with("192.0.2.7")) as (up_host, up_port, seen):
            records = _records(n1={"web": ["10.0.0.2"]})
            server = DnsServer(records, upstreams=[f"{up_host}:{up_port}"])
            addr = _loopback()
            port = await server.add_listener("n1", V4(addr), port=0, internal=True)
            try:
                assert await _ask(addr, port, "web") == ["10.0.0.2"]
                with pytest.raises(Unavailable, match="SERVFAIL"):
                    await _ask(addr, port, "ext.test")
                with pytest.raises(Unavailable, match="SERVFAIL"):
                    await _ask(addr, port, "ext.test", tcp=True)
                assert seen == []
            finally:
                await server.close()

    _run(body)


def test_truncated_upstream_answers_are_fetched_over_tcp_for_tcp_clients() -> None:
    async def body() -> None:
        many = [str(V4(int(V4("10.9.0.0")) + i)) for i in range(1, 101)]
        upstream = DnsServer(_records(up={"big.test": many}))
        up_addr = _loopback()
        up_port = await upstream.add_listener("up", V4(up_addr), port=0)
        front = DnsServer(Records(), upstreams=[f"{up_addr}:{up_port}"])
        addr = _loopback()
        port = await front.add_listener("n1", V4(addr), port=0)
        try:
            udp_raw = await asyncio.to_thread(exchange, addr, port, _query("big.test"))
            assert decode_message(udp_raw).header.tc  # relayed as is: the client retries
            got = await _ask(addr, port, "big.test", tcp=True)
            assert sorted(got, key=ip_address) == many
        finally:
            await front.close()
            await upstream.close()

    _run(body)


def test_clients_on_several_networks_and_their_own_upstreams() -> None:
    async def body() -> None:
        records = _records(n1={"web": ["10.0.0.2"]}, n2={"db": ["10.1.0.2"]})
        with _fake_upstream(_answer_with("192.0.2.50")) as (up_host, up_port, seen):
            server = DnsServer(records, upstreams=["127.0.0.1:9"], forward_timeout=0.5)
            addr = _loopback()
            port = await server.add_listener("n1", V4(addr), port=0)
            client = _loopback()
            try:
                assert isinstance(server.handle("n1", _query("db")), Forward)
                server.set_client(
                    V4(client), networks=["n1", "n2"], upstreams=[f"{up_host}:{up_port}"]
                )
                assert await _ask(addr, port, "db", source=client) == ["10.1.0.2"]
                assert await _ask(addr, port, "ext.test", source=client) == ["192.0.2.50"]
                # Another source address is not that container: n1 only.
                assert isinstance(server.handle("n1", _query("db"), client=V4(addr)), Forward)
                server.drop_client(V4(client))
                assert isinstance(server.handle("n1", _query("db"), client=V4(client)), Forward)
                assert len(seen) == 1
            finally:
                await server.close()

    _run(body)


def test_never_forwards_to_itself() -> None:
    async def body() -> None:
        addr = _loopback()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((addr, 0))
        port = probe.getsockname()[1]
        probe.close()
        server = DnsServer(Records(), upstreams=[f"{addr}:{port}"], forward_timeout=5)
        assert await server.add_listener("n1", V4(addr), port=port) == port
        try:
            start = time.monotonic()
            with pytest.raises(Unavailable, match="SERVFAIL"):
                await _ask(addr, port, "loop.test")
            assert time.monotonic() - start < 1.0
        finally:
            await server.close()

    _run(body)


def test_too_many_pending_forwards_are_refused() -> None:
    async def body() -> None:
        server = DnsServer(Records(), upstreams=["127.0.0.1:9"], max_pending=0)
        addr = _loopback()
        port = await server.add_listener("n1", V4(addr), port=0)
        try:
            with pytest.raises(Unavailable, match="REFUSED"):
                await _ask(addr, port, "ext.test")
        finally:
            await server.close()

    _run(body)


def test_listeners_conflict_are_idempotent_and_are_removed() -> None:
    async def body() -> None:
        server = DnsServer(_records(n1={"web": ["10.0.0.2"]}))
        addr = _loopback()
        port = await server.add_listener("n1", V4(addr), port=0)
        assert await server.add_listener("n1", V4(addr), port=port) == port
        with pytest.raises(Conflict, match="already in use"):
            await server.add_listener("n2", V4(addr), port=port)
        await server.remove_listener("n1")
        await server.remove_listener("n1")
        assert server.listening("n1") == []
        with pytest.raises(Unavailable):
            await _ask(addr, port, "web", timeout=0.3)
        # The address and port are free again.
        assert await server.add_listener("n1", V4(addr), port=port) == port
        assert await _ask(addr, port, "web", tcp=True) == ["10.0.0.2"]
        await server.close()
        with pytest.raises(Unavailable):
            await server.add_listener("n1", V4(addr), port=port)

    _run(body)


def test_records_updates_show_up_in_answers() -> None:
    async def body() -> None:
        records = Records()
        server = DnsServer(records)
        addr = _loopback()
        port = await server.add_listener("n1", V4(addr), port=0, internal=True)
        try:
            with pytest.raises(Unavailable):
                await _ask(addr, port, "web")
            await asyncio.to_thread(records.set_network, "n1", {"web": [V4("10.0.0.5")]})
            assert await _ask(addr, port, "web") == ["10.0.0.5"]
            records.drop_network("n1")
            with pytest.raises(Unavailable):
                await _ask(addr, port, "web")
        finally:
            await server.close()

    _run(body)


def test_nxdomain_from_upstream_is_relayed() -> None:
    async def body() -> None:
        with _fake_upstream(_answer_with("0.0.0.0", Rcode.NXDOMAIN)) as (h, p, _):
            server = DnsServer(Records(), upstreams=[f"{h}:{p}"])
            addr = _loopback()
            port = await server.add_listener("n1", V4(addr), port=0)
            try:
                with pytest.raises(NotFound, match="NXDOMAIN"):
                    await _ask(addr, port, "nope.test")
            finally:
                await server.close()

    _run(body)


def test_garbage_on_the_wire_does_not_stop_the_server() -> None:
    async def body() -> None:
        server = DnsServer(_records(n1={"web": ["10.0.0.2"]}))
        addr = _loopback()
        port = await server.add_listener("n1", V4(addr), port=0)
        try:

            def spray() -> None:
                rng = random.Random(7)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    for _ in range(200):
                        s.sendto(rng.randbytes(rng.randint(0, 80)), (addr, port))
                with socket.create_connection((addr, port)) as s:
                    s.sendall(b"\x00\x05hello\xff")

            await asyncio.to_thread(spray)
            assert await _ask(addr, port, "web") == ["10.0.0.2"]
            assert await _ask(addr, port, "web", tcp=True) == ["10.0.0.2"]
        finally:
            await server.close()

    _run(body)
