#!/usr/bin/env python3
"""Hostile inputs a careful reader must refuse or survive. Not run by CI;
the outputs are committed. Needs only Python's standard library.

    python3 scripts/make-hostile-fixtures.py

`fixtures/hostile/*`: photos that lie or break half-way: a progressive
JPEG of a few hundred bytes whose header claims 15 000 × 15 000 pixels
(~700 MB of coefficient buffers in libjpeg), a PNG that claims as much, a
plausible 8 000 × 8 000 progressive JPEG (190 KB, 192 MB of coefficients), a
JPEG with 200 scans, and a HEIC with flipped bits whose HEVC data ends its
slices early (libheif's own decoder leaves parts of it uninitialised).

`fixtures/models/hostile/*.bin`: PyTorch checkpoints (torch.save's zip
archive, its pickle written opcode by opcode): a pickle that calls
os.system or builtins.eval, other rebuild functions and storage types,
storages missing, too short or overrun, a strided tensor, a truncated zip,
the pre-1.6 format, values nested or shared so that a naive reader takes
exponential or quadratic time or overflows its stack; and `good.bin`, a
2 × 3 tensor it must read.
"""
import io
import random
import shutil
import struct
import subprocess
import tempfile
import zlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def archive(path, pickle_bytes, storages=None, version=b"3\n"):
    """A torch.save archive with a fixed timestamp, so that the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zipped:
        def add(name, data):
            zipped.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
        add("archive/data.pkl", pickle_bytes)
        add("archive/version", version)
        for key, data in (storages or {}).items():
            add(f"archive/data/{key}", data)


def tensor_pickle(storage_numel, offset, shape, stride, storage_type=b"FloatStorage", rebuild=b"_rebuild_tensor_v2"):
    """A protocol-2 pickle of {"w": tensor}, written opcode by opcode."""
    out = io.BytesIO()
    out.write(b"\x80\x02")                                   # PROTO 2
    out.write(b"}q\x00")                                     # EMPTY_DICT, BINPUT 0
    out.write(b"X\x01\x00\x00\x00w")                         # BINUNICODE "w"
    out.write(b"ctorch._utils\n" + rebuild + b"\n")          # GLOBAL
    out.write(b"(")                                          # MARK
    out.write(b"(X\x07\x00\x00\x00storage")                  # MARK, "storage"
    out.write(b"ctorch\n" + storage_type + b"\n")            # GLOBAL torch.FloatStorage
    out.write(b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpu")     # key "0", location "cpu"
    out.write(b"J" + struct.pack("<i", storage_numel))       # BININT numel
    out.write(b"tQ")                                         # TUPLE, BINPERSID
    out.write(b"J" + struct.pack("<i", offset))              # storage offset
    out.write(b"(" + b"".join(b"J" + struct.pack("<i", d) for d in shape) + b"t")
    out.write(b"(" + b"".join(b"J" + struct.pack("<i", d) for d in stride) + b"t")
    out.write(b"\x89")                                       # NEWFALSE (requires_grad)
    out.write(b"ccollections\nOrderedDict\n)R")              # OrderedDict()
    out.write(b"tR")                                         # TUPLE, REDUCE
    out.write(b"s.")                                         # SETITEM, STOP
    return out.getvalue()


def make_hostile_checkpoints():
    folder = FIXTURES / "models" / "hostile"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    floats = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    archive(folder / "good.bin", tensor_pickle(6, 0, [2, 3], [3, 1]), {"0": floats})
    # The classic: a pickle whose REDUCE calls os.system.
    marker = "/tmp/photosearch-pickle-ran"
    archive(folder / "os-system.bin",
            b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len("touch " + marker)) + ("touch " + marker).encode()
            + b"\x85R.")
    archive(folder / "builtins-eval.bin", b"\x80\x02cbuiltins\neval\nX\x0b\x00\x00\x00print('hi')\x85R.")
    archive(folder / "storage-out-of-range.bin", tensor_pickle(6, 4, [2, 3], [3, 1]), {"0": floats})
    archive(folder / "storage-too-short.bin", tensor_pickle(60, 0, [2, 3], [3, 1]), {"0": floats})
    archive(folder / "missing-storage.bin", tensor_pickle(6, 0, [2, 3], [3, 1]), {})
    archive(folder / "strided.bin", tensor_pickle(6, 0, [3, 2], [1, 3]), {"0": floats})
    archive(folder / "unknown-storage-type.bin", tensor_pickle(6, 0, [2, 3], [3, 1], b"ComplexFloatStorage"), {"0": floats})
    archive(folder / "other-rebuild.bin", tensor_pickle(6, 0, [2, 3], [3, 1], rebuild=b"_rebuild_from_type_v2"), {"0": floats})

    # Nesting 300 000 levels deep in a few hundred kilobytes: a reader that
    # frees such values recursively overflows its stack.
    archive(folder / "deep-tuple.bin", b"\x80\x02}X\x01\x00\x00\x00x)" + b"\x85" * 300_000 + b"s.")   # {"x": ((((…))))}
    # The same depth built by changing lists already inside another:
    # [L1], then L2 appended to L1 (fetched from the memo), and so on.
    chain = io.BytesIO()
    chain.write(b"\x80\x02}X\x01\x00\x00\x00w]")                 # {"w": L0 ...
    for level in range(1, 200_000):
        chain.write(b"]r" + struct.pack("<I", level) + b"aj" + struct.pack("<I", level))
    chain.write(b"s.")
    archive(folder / "deep-list.bin", chain.getvalue())
    # 90 levels of t[i] = (t[i-1], t[i-1]) through the memo: 2^90 paths in
    # 700 bytes. Fine to load (90 deep); a reader that walks or copies paths
    # never finishes.
    shared = io.BytesIO()
    shared.write(b"\x80\x02}X\x01\x00\x00\x00w)q\x00")           # {"w": ..., t0 = () memoised as 0
    for level in range(1, 91):
        # t[i-1] is on the stack: push it again from the memo, pair them.
        shared.write(b"h" + bytes([level - 1]) + b"\x86q" + bytes([level]))
    shared.write(b"s.")
    archive(folder / "shared-memo.bin", shared.getvalue())
    # 100 000 memoised 1-tuples, each holding the last: every memo entry is
    # a chain as long as its index, and freeing them one by one is quadratic.
    tuples = io.BytesIO()
    tuples.write(b"\x80\x02}X\x01\x00\x00\x00w)")
    for index in range(100_000):
        tuples.write(b"\x85\x94")                                  # TUPLE1, MEMOIZE
    tuples.write(b"s.")
    archive(folder / "memo-chain.bin", tuples.getvalue())
    # A dictionary that holds itself as its "state_dict": a reader that
    # unwraps training checkpoints recursively never stops.
    archive(folder / "self-reference.bin", b"\x80\x02}q\x00X\x0a\x00\x00\x00state_dicth\x00s.")
    # Two million empty tuples appended to one list: past the container limit.
    many = io.BytesIO()
    many.write(b"\x80\x02}X\x01\x00\x00\x00w]")
    many.write(b")a" * 1_100_000)
    many.write(b"s.")
    archive(folder / "many-containers.bin", many.getvalue())

    whole = (folder / "good.bin").read_bytes()
    (folder / "truncated.bin").write_bytes(whole[: len(whole) // 2])
    # PyTorch's format before 1.6: pickles one after another, the first the magic number.
    (folder / "not-a-zip.bin").write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02}q\x00.")
    print("hostile:", sorted(path.name for path in folder.iterdir()))


class Bits:
    """An entropy-coded segment: bits MSB first, 0xFF bytes stuffed, padded with ones."""

    def __init__(self):
        self.bits = []

    def put(self, value, count):
        self.bits += [(value >> (count - 1 - index)) & 1 for index in range(count)]

    def bytes(self):
        bits = self.bits + [1] * (-len(self.bits) % 8)
        out = bytearray()
        for start in range(0, len(bits), 8):
            byte = int("".join(map(str, bits[start:start + 8])), 2)
            out.append(byte)
            if byte == 0xFF:
                out.append(0)
        return bytes(out)


def segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def huffman_table(table_class, table_id, codes):
    """DHT for symbols given as (symbol, code length), listed in code order."""
    counts = [0] * 16
    for _, length in codes:
        counts[length - 1] += 1
    return segment(0xC4, bytes([table_class << 4 | table_id]) + bytes(counts) + bytes(symbol for symbol, _ in codes))


def progressive_jpeg(width, height, components, scans):
    """SOI, flat quantisation, SOF2, then each scan: (component ids, Ss, Se, DHT segments, entropy bytes[, Ah << 4 | Al])."""
    out = b"\xFF\xD8" + segment(0xDB, b"\x00" + b"\x01" * 64)
    out += segment(0xC2, struct.pack(">BHHB", 8, height, width, len(components))
                   + b"".join(bytes([identifier, sampling, 0]) for identifier, sampling in components))
    for ids, start, end, tables, data, *approximation in scans:
        out += tables
        out += segment(0xDA, bytes([len(ids)]) + b"".join(bytes([identifier, 0x00]) for identifier in ids)
                       + bytes([start, end, approximation[0] if approximation else 0]))
        out += data
    return out + b"\xFF\xD9"


def make_hostile_photos():
    folder = FIXTURES / "hostile"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    ycc = [(1, 0x22), (2, 0x11), (3, 0x11)]

    # 15 000 × 15 000, 4:2:0, progressive: one AC scan of the luma, every
    # block an end-of-band run (EOB14: 16 384 + 14 bits, up to 32 767
    # blocks): 3 515 625 blocks in 215 bytes. libjpeg allocates every
    # component's coefficients before it reads a scan.
    blocks = 1875 * 1875
    bits = Bits()
    while blocks > 0:
        run = min(blocks, 32767)
        if run >= 16384:
            bits.put(0b0, 1)                 # EOB14
            bits.put(run - 16384, 14)
        else:
            assert run >= 8192
            bits.put(0b10, 2)                # EOB13
            bits.put(run - 8192, 13)
        blocks -= run
    ac = huffman_table(1, 0, [(0xE0, 1), (0xD0, 2)])
    lying = progressive_jpeg(15000, 15000, ycc, [([1], 1, 63, ac, bits.bytes())])
    (folder / "lying-progressive.jpg").write_bytes(lying)

    # The same claim in a PNG: 15 000 × 15 000 RGB from 60 bytes of IDAT.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 15000, 15000, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 45001 * 4)) + chunk(b"IEND", b"")
    (folder / "lying.png").write_bytes(png)

    # A real 8 000 × 8 000 progressive JPEG (grey): one DC scan, one bit per
    # block, and nothing else. Plausible (190 KB for a million luma blocks);
    # decoding it still needs 192 MB of coefficient buffers.
    mcus = 500 * 500
    dc = huffman_table(0, 0, [(0x00, 1)])
    plausible = progressive_jpeg(8000, 8000, ycc, [([1, 2, 3], 0, 0, dc, b"\x00" * (mcus * 6 // 8))])
    (folder / "large-progressive.jpg").write_bytes(plausible)

    # 8 × 8 grey, a valid progression of 127 scans: its DC, then each AC
    # coefficient alone at half precision, then each refined (each scan
    # visits every block, so thousands cost minutes).
    one = Bits()
    one.put(0, 1)
    scan = ([1], 0, 0, dc, one.bytes())
    eob = huffman_table(1, 0, [(0x00, 1)])
    bands = [([1], k, k, eob, one.bytes(), 0x01) for k in range(1, 64)]
    refinements = [([1], k, k, eob, one.bytes(), 0x10) for k in range(1, 64)]
    (folder / "many-scans.jpg").write_bytes(progressive_jpeg(8, 8, [(1, 0x11)], [scan] + bands + refinements))

    # 8 × 8 grey: its DC, the AC band at half precision, the refinement
    # of that band's last bit, then the same refinement again, which no
    # earlier scan left anything to refine for (libjpeg only warns; each
    # such scan walks every coefficient of every block, for a few bytes).
    first = ([1], 1, 63, eob, one.bytes(), 0x01)
    refinement = ([1], 1, 63, eob, one.bytes(), 0x10)
    (folder / "refining-twice.jpg").write_bytes(progressive_jpeg(8, 8, [(1, 0x11)], [scan, first, refinement, refinement]))
    # And the way round libjpeg's check: the band sent first again once
    # refined (the precision it expects is 0 again), which could go round
    # until the scan limit, each round walking every block.
    (folder / "sending-twice.jpg").write_bytes(progressive_jpeg(8, 8, [(1, 0x11)], [scan, first, refinement, first, refinement]))

    # A valid but slow one: 15 800 × 15 800 grey, arithmetic-coded (no
    # least size per block), its AC band sent at 1/512 precision and then
    # refined bit by bit: 11 scans, each walking all 3.9 million blocks,
    # in 302 bytes (about 2 s of decoding). Made by jpegtran
    # (libjpeg-turbo-progs) from a Huffman-coded DC-only one.
    side = 15800
    blocks = ((side + 7) // 8) ** 2
    base = progressive_jpeg(side, side, [(1, 0x11)], [([1], 0, 0, dc, b"\x00" * ((blocks + 7) // 8))])
    script = "0: 0 0 0 0;\n0: 1 63 0 9;\n" + "".join(f"0: 1 63 {bit} {bit - 1};\n" for bit in range(9, 0, -1))
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "base.jpg").write_bytes(base)
        (Path(scratch) / "scans.txt").write_text(script)
        slow = subprocess.run(["jpegtran", "-arithmetic", "-scans", str(Path(scratch) / "scans.txt"), str(Path(scratch) / "base.jpg")],
                              check=True, capture_output=True).stdout
    (folder / "slow-progressive.jpg").write_bytes(slow)

    # coffee.heic with 20 bits flipped in its HEVC data.
    heic = bytearray((FIXTURES / "photos" / "coffee.heic").read_bytes())
    mdat = heic.index(b"mdat") + 4
    flips = random.Random(20261206)   # a seed whose damage libheif 1.15 decodes differently each run
    for _ in range(20):
        offset = flips.randrange(mdat + 100, len(heic))
        heic[offset] ^= 1 << flips.randrange(8)
    (folder / "damaged.heic").write_bytes(bytes(heic))
    print("photos:", sorted(path.name for path in folder.iterdir()))


def main():
    make_hostile_photos()
    make_hostile_checkpoints()


if __name__ == "__main__":
    main()
