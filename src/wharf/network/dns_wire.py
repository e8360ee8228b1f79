"""DNS wire format (RFC 1035, with the EDNS OPT record of RFC 6891): a small sans-IO codec.

The embedded DNS server (``network/dns.py``) decodes queries and encodes answers with it;
forwarded upstream answers are relayed as bytes and only their header and question are read.

Imports: stdlib and ``wharf.errdefs`` only. No sockets here.

A message, all integers big-endian::

    offset 0   id:16
           2   QR:1 OPCODE:4 AA:1 TC:1 RD:1 RA:1 Z:1 AD:1 CD:1 RCODE:4
           4   QDCOUNT:16  ANCOUNT:16  NSCOUNT:16  ARCOUNT:16
          12   question*  = NAME TYPE:16 CLASS:16
               answer*, authority*, additional* = NAME TYPE:16 CLASS:16 TTL:32 RDLENGTH:16 RDATA

    NAME  = label* 0x00 | label* POINTER
    label = LEN:8 (1..63) then LEN bytes
    POINTER = 0b11 OFFSET:14, the rest of the name is read at OFFSET (compression)

Invariants:
- ``decode_message`` raises only ``MalformedMessage``, whatever the bytes: compression
  pointers must point strictly before the segment that holds them (no loops), names stay
  within 255 octets, counts must match the data.
- Names are ``str`` without the trailing dot (the root is ``""``), in the case they were
  sent (resolvers using 0x20 case randomisation expect their case back); bytes map to
  characters one to one (latin-1), with ``.`` and ``\\`` inside a label escaped by ``\\``.
- ``rdata`` of PTR/CNAME/NS records is held uncompressed, so a record means the same
  outside the message it came from.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address

from wharf.errdefs import InvalidArgument

MAX_NAME_OCTETS = 255
MAX_LABEL_OCTETS = 63
UDP_PAYLOAD_MIN = 512  # what a client without EDNS accepts over UDP (RFC 1035 4.2.1)
MAX_MESSAGE = 65535  # the TCP length prefix is 16 bits

_HEADER = struct.Struct("!HHHHHH")
_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength after a record's name
_QFIXED = struct.Struct("!HH")


class MalformedMessage(InvalidArgument):
    """Bytes that are not a well-formed DNS message."""


class Opcode(IntEnum):
    QUERY = 0
    IQUERY = 1
    STATUS = 2
    NOTIFY = 4
    UPDATE = 5


class Rcode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


class QType(IntEnum):
    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    MX = 15
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    ANY = 255


class QClass(IntEnum):
    IN = 1
    CH = 3
    ANY = 255


_NAME_TYPES = frozenset({QType.PTR, QType.CNAME, QType.NS})


@dataclass(frozen=True, slots=True)
class Header:
    """The fixed 12 bytes, less the section counts (derived from the sections on encode)."""

    id: int
    qr: bool = False
    opcode: int = Opcode.QUERY
    aa: bool = False
    tc: bool = False
    rd: bool = False
    ra: bool = False
    ad: bool = False
    cd: bool = False
    rcode: int = Rcode.NOERROR

    def flags(self) -> int:
        return (
            (self.qr << 15)
            | ((self.opcode & 0xF) << 11)
            | (self.aa << 10)
            | (self.tc << 9)
            | (self.rd << 8)
            | (self.ra << 7)
            | (self.ad << 5)
            | (self.cd << 4)
            | (self.rcode & 0xF)
        )

    @classmethod
    def from_flags(cls, ident: int, flags: int) -> Header:
        return cls(
            id=ident,
            qr=bool(flags & 0x8000),
            opcode=(flags >> 11) & 0xF,
            aa=bool(flags & 0x0400),
            tc=bool(flags & 0x0200),
            rd=bool(flags & 0x0100),
            ra=bool(flags & 0x0080),
            ad=bool(flags & 0x0020),
            cd=bool(flags & 0x0010),
            rcode=flags & 0xF,
        )


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    qtype: int
    qclass: int = QClass.IN

    def same(self, other: Question) -> bool:
        """Equal as DNS compares questions: names without regard to ASCII case."""
        return (
            self.qtype == other.qtype
            and self.qclass == other.qclass
            and self.name.lower() == other.name.lower()
        )


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes

    @classmethod
    def a(cls, name: str, address: IPv4Address, ttl: int) -> ResourceRecord:
        return cls(name, QType.A, QClass.IN, ttl, address.packed)

    @classmethod
    def aaaa(cls, name: str, address: IPv6Address, ttl: int) -> ResourceRecord:
        return cls(name, QType.AAAA, QClass.IN, ttl, address.packed)

    @classmethod
    def ptr(cls, name: str, target: str, ttl: int) -> ResourceRecord:
        return cls(name, QType.PTR, QClass.IN, ttl, encode_name(target))

    @classmethod
    def opt(cls, udp_payload: int) -> ResourceRecord:
        """An EDNS(0) OPT pseudo-record: class carries the UDP payload size, no options."""
        return cls("", QType.OPT, udp_payload, 0, b"")

    def address(self) -> IPv4Address | IPv6Address:
        if self.rtype == QType.A and len(self.rdata) == 4:
            return IPv4Address(self.rdata)
        if self.rtype == QType.AAAA and len(self.rdata) == 16:
            return IPv6Address(self.rdata)
        raise MalformedMessage(f"record of type {self.rtype} for {self.name!r} is no address")

    def target(self) -> str:
        if self.rtype not in _NAME_TYPES:
            raise MalformedMessage(f"record of type {self.rtype} for {self.name!r} holds no name")
        name, end = _read_name(self.rdata, 0)
        if end != len(self.rdata):
            raise MalformedMessage(f"trailing bytes in the rdata of {self.name!r}")
        return name


@dataclass(frozen=True, slots=True)
class Message:
    header: Header
    questions: tuple[Question, ...] = ()
    answers: tuple[ResourceRecord, ...] = ()
    authorities: tuple[ResourceRecord, ...] = ()
    additionals: tuple[ResourceRecord, ...] = ()

    def edns_payload(self) -> int | None:
        """The UDP payload size the sender accepts, from its OPT record; None without EDNS."""
        for rr in self.additionals:
            if rr.rtype == QType.OPT:
                return rr.rclass
        return None


# --- names ---------------------------------------------------------------------------


def _split_name(name: str) -> list[bytes]:
    """Text name to wire labels, honouring ``\\.`` and ``\\\\`` escapes."""
    if name in ("", "."):
        return []
    labels: list[bytes] = []
    current = bytearray()
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\" and i + 1 < len(name):
            current += name[i + 1].encode("latin-1")
            i += 2
            continue
        if ch == ".":
            labels.append(bytes(current))
            current = bytearray()
        else:
            try:
                current += ch.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise InvalidArgument(f"DNS name {name!r} is not ASCII") from exc
        i += 1
    if current or not name.endswith("."):
        labels.append(bytes(current))
    for label in labels:
        if not label or len(label) > MAX_LABEL_OCTETS:
            raise InvalidArgument(f"invalid DNS name {name!r}: empty or over-long label")
    if sum(len(label) + 1 for label in labels) + 1 > MAX_NAME_OCTETS:
        raise InvalidArgument(f"invalid DNS name {name!r}: longer than 255 octets")
    return labels


def _label_text(label: bytes) -> str:
    return label.decode("latin-1").replace("\\", "\\\\").replace(".", "\\.")


def encode_name(name: str) -> bytes:
    """A name in uncompressed wire form."""
    return b"".join(bytes([len(label)]) + label for label in _split_name(name)) + b"\x00"


def _read_name(buf: bytes, pos: int) -> tuple[str, int]:
    """Read a possibly compressed name at ``pos``; return it and the offset just after it."""
    labels: list[str] = []
    octets = 1
    end = -1
    segment_start = pos
    while True:
        if pos >= len(buf):
            raise MalformedMessage("name runs past the end of the message")
        length = buf[pos]
        if length == 0:
            return ".".join(labels), (pos + 1 if end < 0 else end)
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(buf):
                raise MalformedMessage("truncated compression pointer")
            target = ((length & 0x3F) << 8) | buf[pos + 1]
            if target >= segment_start:
                raise MalformedMessage("compression pointer does not point backwards")
            if end < 0:
                end = pos + 2
            pos = segment_start = target
            continue
        if kind:
            raise MalformedMessage(f"unsupported label type {kind:#x}")
        octets += length + 1
        if octets > MAX_NAME_OCTETS:
            raise MalformedMessage("name longer than 255 octets")
        if pos + 1 + length > len(buf):
            raise MalformedMessage("label runs past the end of the message")
        labels.append(_label_text(buf[pos + 1 : pos + 1 + length]))
        pos += 1 + length


class _Writer:
    """Accumulates a message, compressing names against the suffixes already written."""

    __slots__ = ("buf", "offsets")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.offsets: dict[tuple[bytes, ...], int] = {}

    def name(self, name: str) -> None:
        labels = _split_name(name)
        for i in range(len(labels)):
            key = tuple(labels[i:])
            known = self.offsets.get(key)
            if known is not None:
                self.buf += struct.pack("!H", 0xC000 | known)
                return
            if len(self.buf) < 0x4000:
                self.offsets[key] = len(self.buf)
            self.buf.append(len(labels[i]))
            self.buf += labels[i]
        self.buf.append(0)

    def record(self, rr: ResourceRecord) -> None:
        self.name(rr.name)
        self.buf += _FIXED.pack(rr.rtype, rr.rclass, rr.ttl, len(rr.rdata))
        self.buf += rr.rdata


# --- messages ------------------------------------------------------------------------


def encode_message(message: Message, *, limit: int = MAX_MESSAGE) -> bytes:
    """Encode ``message``; if it exceeds ``limit`` bytes, drop answers, authorities and
    additionals (keeping an OPT record) from the end until it fits and set TC."""
    data = _encode(message)
    if len(data) <= limit:
        return data
    opt = tuple(rr for rr in message.additionals if rr.rtype == QType.OPT)
    sections = list(message.answers)
    header = replace(message.header, tc=True)
    while True:
        candidate = Message(header, message.questions, tuple(sections), (), opt)
        data = _encode(candidate)
        if len(data) <= limit or not sections:
            return data
        sections.pop()


def _encode(message: Message) -> bytes:
    w = _Writer()
    w.buf += _HEADER.pack(
        message.header.id & 0xFFFF,
        message.header.flags(),
        len(message.questions),
        len(message.answers),
        len(message.authorities),
        len(message.additionals),
    )
    for q in message.questions:
        w.name(q.name)
        w.buf += _QFIXED.pack(q.qtype, q.qclass)
    for section in (message.answers, message.authorities, message.additionals):
        for rr in section:
            w.record(rr)
    if len(w.buf) > MAX_MESSAGE:
        raise InvalidArgument(f"DNS message of {len(w.buf)} bytes exceeds {MAX_MESSAGE}")
    return bytes(w.buf)


def decode_header(data: bytes) -> Header:
    if len(data) < _HEADER.size:
        raise MalformedMessage(f"message of {len(data)} bytes is shorter than a header")
    ident, flags = struct.unpack_from("!HH", data)
    return Header.from_flags(ident, flags)


def decode_message(data: bytes, *, questions_only: bool = False) -> Message:
    """Decode a whole message (or just its header and questions, for relayed answers)."""
    header = decode_header(data)
    qd, an, ns, ar = struct.unpack_from("!HHHH", data, 4)
    pos = _HEADER.size
    questions: list[Question] = []
    for _ in range(qd):
        name, pos = _read_name(data, pos)
        if pos + _QFIXED.size > len(data):
            raise MalformedMessage("question runs past the end of the message")
        qtype, qclass = _QFIXED.unpack_from(data, pos)
        pos += _QFIXED.size
        questions.append(Question(name, qtype, qclass))
    if questions_only:
        return Message(header, tuple(questions))
    sections: list[tuple[ResourceRecord, ...]] = []
    for count in (an, ns, ar):
        records: list[ResourceRecord] = []
        for _ in range(count):
            rr, pos = _read_record(data, pos)
            records.append(rr)
        sections.append(tuple(records))
    return Message(header, tuple(questions), sections[0], sections[1], sections[2])


def _read_record(data: bytes, pos: int) -> tuple[ResourceRecord, int]:
    name, pos = _read_name(data, pos)
    if pos + _FIXED.size > len(data):
        raise MalformedMessage("record runs past the end of the message")
    rtype, rclass, ttl, rdlength = _FIXED.unpack_from(data, pos)
    pos += _FIXED.size
    if pos + rdlength > len(data):
        raise MalformedMessage("record data runs past the end of the message")
    rdata = data[pos : pos + rdlength]
    if rtype in _NAME_TYPES:
        target, end = _read_name(data, pos)
        if end != pos + rdlength:
            raise MalformedMessage(f"bad name in the rdata of {name!r}")
        rdata = encode_name(target)
    return ResourceRecord(name, rtype, rclass, ttl, rdata), pos + rdlength


def reply_header(query: Header, rcode: int, *, authoritative: bool = False) -> Header:
    """The header of an answer to ``query``: its id, opcode, RD and CD echoed; RA set."""
    return Header(
        id=query.id,
        qr=True,
        opcode=query.opcode,
        aa=authoritative,
        rd=query.rd,
        ra=True,
        cd=query.cd,
        rcode=rcode,
    )


def error_reply(query: Message, rcode: int) -> bytes:
    """An answer carrying only ``rcode`` and the query's question."""
    return encode_message(Message(reply_header(query.header, rcode), query.questions[:1]))


def reply_matches(reply: bytes, ident: int, question: Question) -> bool:
    """Whether ``reply`` answers our query ``ident`` about ``question`` (anti-spoofing and
    stale-answer check before relaying an upstream's bytes)."""
    try:
        msg = decode_message(reply, questions_only=True)
    except MalformedMessage:
        return False
    if msg.header.id != ident or not msg.header.qr:
        return False
    if not msg.questions:  # a server that could not parse the query may omit the question
        return msg.header.rcode != Rcode.NOERROR
    return len(msg.questions) == 1 and msg.questions[0].same(question)


def reverse_pointer_address(name: str) -> IPv4Address | IPv6Address | None:
    """The address a ``in-addr.arpa``/``ip6.arpa`` name stands for; None for other names."""
    labels = name.lower().rstrip(".").split(".")
    if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
        octets = labels[3::-1]
        if all(o.isdigit() and len(o) <= 3 and int(o) < 256 for o in octets) and all(
            o == "0" or not o.startswith("0") for o in octets
        ):
            return IPv4Address(".".join(octets))
        return None
    if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
        nibbles = labels[31::-1]
        if all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return IPv6Address(int("".join(nibbles), 16))
    return None
