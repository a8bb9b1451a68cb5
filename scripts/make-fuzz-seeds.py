#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into Tests/Fuzz/Corpus/<fuzzer>/ from the
fixtures (Python's standard library only; run from the repository root, after
`swift build`, which it uses to make a real vector file). Not run by CI: its
small outputs are committed."""
import json
import os
import struct
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Tests/Fuzz/Corpus"


def seed(fuzzer, name, data):
    folder = CORPUS / fuzzer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def safetensors(tensors, metadata=None):
    header, body = {}, b""
    for name, (shape, values) in tensors.items():
        data = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def varint(value):
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def read_varint(data, position):
    """The varint at `position`, and the position after it."""
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def fields(data):
    """A protobuf message's (number, wire type, raw value) fields."""
    position, result = 0, []
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire = key >> 3, key & 7
        start = position
        if wire == 0:
            _, position = read_varint(data, position)
        elif wire == 5:
            position += 4
        elif wire == 1:
            position += 8
        elif wire == 2:
            length, start = read_varint(data, position)
            position = start + length
        result.append((number, wire, data[start:position]))
    return result


def message(parts):
    out = b""
    for number, wire, value in parts:
        out += varint(number << 3 | wire) + (varint(len(value)) + value if wire == 2 else value)
    return out


def spiece_seeds():
    """The fixture's spiece.model whole (its nmt_nfkc character map is 240 kB),
    and the same pieces with an identity normaliser (2 kB of pieces)."""
    model = (ROOT / "fixtures/models/siglip-p8/spiece.model").read_bytes()
    seed("spiece", "siglip-p8-nmt-nfkc", model)
    parts = fields(model)
    identity = message([(1, 2, b"identity"), (3, 0, varint(1)), (4, 0, varint(1)), (5, 0, varint(1))])
    pieces = [part for part in parts if part[0] == 1][:120]
    rest = [part for part in parts if part[0] == 2]
    seed("spiece", "identity-120-pieces", message(pieces + rest + [(3, 2, identity)]))


def main():
    # Seeds are remade; inputs the fuzzers found (regression-*) are kept.
    for path in CORPUS.glob("*/*"):
        if not path.name.startswith("regression-"):
            path.unlink()
    seed("safetensors", "two-tensors", safetensors({"w": ([2, 3], [1, 2, 3, 4, 5, 6]), "b": ([3], [0.5, -1, 2])}, {"format": "pt"}))
    seed("safetensors", "empty-shape", safetensors({"scalar": ([], [7.0])}))
    f16 = json.dumps({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    f16 += b" " * (-len(f16) % 8)
    seed("safetensors", "f16", struct.pack("<Q", len(f16)) + f16 + b"\x00\x3c\x00\xc0")
    # PyTorch archives: the small good and hostile ones scripts/make-hostile-fixtures.py made.
    for archive in sorted((ROOT / "fixtures/models/hostile").glob("*.bin")):
        if archive.stat().st_size <= 65536:   # the deep-nesting ones are megabytes
            seed("pytorch", archive.stem, archive.read_bytes())

    for model, config in [("oc-vit-gelu-p16", "open_clip_config.json"), ("oc-vit-quickgelu-p8", "open_clip_config.json")]:
        seed("configuration", model, b"\x00" + (ROOT / "fixtures/models" / model / config).read_bytes())
    seed("configuration", "hf-vit-quickgelu-p8", b"\x01" + (ROOT / "fixtures/models/hf-vit-quickgelu-p8/config.json").read_bytes())

    for photo in ["coffee-64.jpg", "coffee-48.png", "chelsea.webp", "chelsea-orientation-6.jpg", "astronaut-progressive.jpg"]:
        seed("image", photo, (ROOT / "fixtures/photos" / photo).read_bytes())
    # Headers that lie about their size, a scan bomb, damaged HEVC (scripts/make-hostile-fixtures.py).
    for photo in ["lying-progressive.jpg", "lying.png", "many-scans.jpg", "damaged.heic"]:
        seed("image", photo, (ROOT / "fixtures/hostile" / photo).read_bytes())
    # HEIF items that lie or nest, and honest derived images (scripts/make-hostile-heif.py).
    for photo in ["grid-lying-size.heic", "iden-chain.heic", "tiles-lying-size.heic", "ispe-lying.heic", "depth-inflates.heic",
                  "tile-larger-than-grid.heic", "empty-extents.heic", "alpha-chain.heic"]:
        seed("image", photo, (ROOT / "fixtures/hostile" / photo).read_bytes())
    for photo in ["grid-2x2.heic", "iden.heic"]:
        seed("image", photo, (ROOT / "fixtures/photos" / photo).read_bytes())

    for index, query in enumerate(['"dog" + "beach" - "people"', "2:sunset + ./ref.jpg", "a well-lit room at dusk",
                                   "0.5:'red car' - 1.5:night", "12:30 lunch", '"it\\"s raining"', "海边的日落 + 2:\"生日蛋糕\""]):
        seed("query", f"query-{index}", query)
    for index, text in enumerate(["a photo of a cat", "Crème brûlée &amp; café", "海边的日落", "🐶🏖️ at sunset!!!",
                                  "ΣΊΣΥΦΟΣ final σ", "a " * 100, "<|endoftext|> <start_of_text>"]):
        seed("tokenizer", f"text-{index}", text)
    spiece_seeds()

    # A real vector file (32-d, the fixture model), its model checksum set to
    # the one the fuzzer opens with.
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "index.sqlite"
        binary = ROOT / ".build/debug/photosearch"
        model = ROOT / "fixtures/models/oc-vit-gelu-p16"
        subprocess.run([binary, "index", ROOT / "fixtures/photos/coffee-64.jpg", ROOT / "fixtures/photos/chelsea-48.png",
                        "--db", database, "--model", model], check=True, capture_output=True)
        subprocess.run([binary, "search", "x", "--db", database, "--model", model], check=True, capture_output=True)
        vectors = bytearray((Path(folder) / "index.sqlite.vectors").read_bytes())
        vectors[32:96] = b"fuzz".ljust(64, b"\x00")
        seed("vectors", "two-rows", bytes(vectors))

    # A partitioned one: eight photos in two cells (PHOTOSEARCH_PARTITION_FROM).
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "index.sqlite"
        photos = sorted((ROOT / "fixtures/photos/places").glob("*.jpg"))[:8]
        subprocess.run([binary, "index", *photos, "--db", database, "--model", model], check=True, capture_output=True)
        subprocess.run([binary, "search", "x", "--db", database, "--model", model], check=True, capture_output=True,
                       env={**os.environ, "PHOTOSEARCH_PARTITION_FROM": "1"})
        vectors = bytearray((Path(folder) / "index.sqlite.vectors").read_bytes())
        assert int.from_bytes(vectors[112:116], "little") == 2, "not partitioned"
        vectors[32:96] = b"fuzz".ljust(64, b"\x00")
        seed("vectors", "eight-rows-two-cells", bytes(vectors))

    # A real prepared-weights file: the fixture model's image tower in int8
    # (170 KB; its text tower's vocabulary makes that one 2 MB).
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([ROOT / ".build/debug/photosearch", "embed", "--model", ROOT / "fixtures/models/oc-vit-gelu-p16",
                        "--image", ROOT / "fixtures/photos/chelsea-48.png"], check=True, capture_output=True,
                       env={"XDG_CACHE_HOME": folder, "HOME": folder})
        for prepared in sorted(Path(folder).glob("photosearch/prepared/*")):
            seed("prepared", "image-int8", prepared.read_bytes())


if __name__ == "__main__":
    main()
