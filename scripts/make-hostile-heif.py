"""HEIF files that lie about what they hold (fixtures/hostile/*.heic), and two
honest derived images (fixtures/photos/grid-2x2.heic, iden.heic), written box
by box around HEVC streams that heif-enc (libheif-examples) makes from flat
and gradient PNGs. Not run by CI; its outputs are committed.

    python3 scripts/make-hostile-heif.py fixtures
"""
import os, struct, subprocess, sys, tempfile, zlib


def box(kind, payload):
    return struct.pack('>I', 8 + len(payload)) + kind + payload


def full_box(kind, version, flags, payload):
    return box(kind, struct.pack('>I', (version << 24) | flags) + payload)


def children(data, start, end):
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack('>I4s', data[position:position + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack('>Q', data[position + 8:position + 16])[0], 16
        if size == 0:
            size = end - position
        yield kind, position, header, size
        position += size


FULL_BOXES = (b'meta', b'iinf', b'iref', b'iloc', b'pitm', b'ipma')


def find(data, path, start=0, end=None):
    end = len(data) if end is None else end
    for kind, position, header, size in children(data, start, end):
        if kind == path[0]:
            inner = position + header + (4 if kind in FULL_BOXES else 0)
            return (position, header, size) if len(path) == 1 else find(data, path[1:], inner, position + size)
    return None


def extract(path):
    """The hvcC box and the coded data of heif-enc's single image (item 1)."""
    data = open(path, 'rb').read()
    ipco = find(data, [b'meta', b'iprp', b'ipco'])
    hvcc = [data[p:p + s] for kind, p, h, s in children(data, ipco[0] + ipco[1], ipco[0] + ipco[2]) if kind == b'hvcC'][0]
    position, header, size = find(data, [b'meta', b'iloc'])
    iloc = data[position + header:position + size]
    version, q = iloc[0], 4
    offset_size, length_size, base_size = iloc[q] >> 4, iloc[q] & 15, iloc[q + 1] >> 4
    index_size = iloc[q + 1] & 15
    q += 2

    def read(n):
        nonlocal q
        value = int.from_bytes(iloc[q:q + n], 'big') if n else 0
        q += n
        return value
    count, items = read(2 if version < 2 else 4), {}
    for _ in range(count):
        item = read(2 if version < 2 else 4)
        if version in (1, 2):
            read(2)
        read(2)
        base, extents, coded = read(base_size), read(2), b''
        for _ in range(extents):
            if version in (1, 2) and index_size:
                read(index_size)
            offset, length = read(offset_size), read(length_size)
            coded += data[base + offset:base + offset + length]
        items[item] = coded
    return hvcc, items[1]


class HEIF:
    def __init__(self):
        self.items, self.properties, self.associations, self.references = [], [], {}, []

    def item(self, item, kind, data):
        self.items.append((item, kind, data))

    def property(self, payload):
        self.properties.append(payload)
        return len(self.properties)

    def associate(self, item, index, essential=False):
        self.associations.setdefault(item, []).append((index, essential))

    def reference(self, kind, source, targets):
        self.references.append((kind, source, list(targets)))

    def build(self):
        ftyp = box(b'ftyp', b'heic' + struct.pack('>I', 0) + b'mif1heicmiaf')
        hdlr = full_box(b'hdlr', 0, 0, b'\0' * 4 + b'pict' + b'\0' * 13)
        pitm = full_box(b'pitm', 0, 0, struct.pack('>H', 1))
        infe = b''.join(full_box(b'infe', 2, 0, struct.pack('>HH', item, 0) + kind + b'\0') for item, kind, _ in self.items)
        iinf = full_box(b'iinf', 0, 0, struct.pack('>H', len(self.items)) + infe)
        entries = b''
        for item in sorted(self.associations):
            entries += struct.pack('>HB', item, len(self.associations[item]))
            entries += b''.join(bytes([(0x80 if essential else 0) | index]) for index, essential in self.associations[item])
        ipma = full_box(b'ipma', 0, 0, struct.pack('>I', len(self.associations)) + entries)
        iprp = box(b'iprp', box(b'ipco', b''.join(self.properties)) + ipma)
        references = b''.join(box(kind, struct.pack('>HH', source, len(targets)) + b''.join(struct.pack('>H', t) for t in targets))
                              for kind, source, targets in self.references)
        iref = full_box(b'iref', 0, 0, references) if references else b''

        def assemble(offsets):
            locations = b''.join(struct.pack('>HHHII', item, 0, 1, offset, len(data))
                                 for (item, _, data), offset in zip(self.items, offsets))
            iloc = full_box(b'iloc', 0, 0, bytes([0x44, 0x00]) + struct.pack('>H', len(self.items)) + locations)
            return ftyp + full_box(b'meta', 0, 0, hdlr + pitm + iloc + iinf + iref + iprp)
        offsets, position = [], len(assemble([0] * len(self.items))) + 8
        for _, _, data in self.items:
            offsets.append(position)
            position += len(data)
        return assemble(offsets) + box(b'mdat', b''.join(data for _, _, data in self.items))


def ispe(width, height):
    return full_box(b'ispe', 0, 0, struct.pack('>II', width, height))


def grid(rows, columns, width, height):
    large = width > 0xFFFF or height > 0xFFFF
    size = struct.pack('>II', width, height) if large else struct.pack('>HH', width, height)
    return bytes([0, 1 if large else 0, rows - 1, columns - 1]) + size


def png(path, width, height, flat):
    rows = []
    for y in range(height):
        if flat:
            row = bytes([128] * (width * 3))
        else:
            row = b''.join(bytes([(x * 255) // (width - 1), (y * 255) // (height - 1), ((x + y) * 3) & 255]) for x in range(width))
        rows.append(b'\0' + row)

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(b''.join(rows), 9))
                           + chunk(b'IEND', b''))


def main(fixtures):
    work = tempfile.mkdtemp()
    streams = {}
    for name, side, flat in (('g64', 64, False), ('flat8k', 8192, True)):
        png(f'{work}/{name}.png', side, side, flat)
        subprocess.run(['heif-enc', '-q', '50', '-o', f'{work}/{name}.heic', f'{work}/{name}.png'], check=True, capture_output=True)
        streams[name] = extract(f'{work}/{name}.heic')

    def single(stream, width, height):
        hvcc, coded = streams[stream]
        f = HEIF()
        f.item(1, b'hvc1', coded)
        f.associate(1, f.property(hvcc), True)
        f.associate(1, f.property(ispe(width, height)))
        return f

    def tiled(stream, rows, columns, width, height, tile, said=None):
        hvcc, coded = streams[stream]
        f = HEIF()
        f.item(1, b'grid', grid(rows, columns, width, height))
        f.item(2, b'hvc1', coded)
        f.associate(1, f.property(ispe(*(said or (columns * tile, rows * tile)))))
        f.associate(2, f.property(hvcc), True)
        f.associate(2, f.property(ispe(tile, tile)))
        f.reference(b'dimg', 1, [2] * (rows * columns))
        return f

    def auxiliary_type(urn):
        return full_box(b'auxC', 0, 0, urn + b'\0')

    # An image said to be 1 × 1 (an 8 192² stream) with a depth map said to
    # be 8 192² and holding nothing: libheif never decodes depth, so it must
    # not raise what the image may decode.
    depth = single('flat8k', 1, 1)
    depth.item(2, b'hvc1', b'')
    depth.associate(2, 1, True)
    depth.associate(2, depth.property(ispe(8192, 8192)))
    depth.associate(2, depth.property(auxiliary_type(b'urn:mpeg:hevc:2015:auxid:2')))
    depth.reference(b'auxl', 2, [1])
    # A 64² image whose alpha has an alpha, and so on, 5 deep (libheif recurses).
    alphas = HEIF()
    config, size, alpha = alphas.property(streams['g64'][0]), alphas.property(ispe(64, 64)), \
        alphas.property(auxiliary_type(b'urn:mpeg:hevc:2015:auxid:1'))
    for item in range(1, 7):
        alphas.item(item, b'hvc1', streams['g64'][1])
        alphas.associate(item, config, True)
        alphas.associate(item, size)
        if item > 1:
            alphas.associate(item, alpha)
            alphas.reference(b'auxl', item, [item - 1])

    outputs = {
        # 53 KB: iden → iden → … → a 64² image, 1 000 deep; libheif
        # recursed once a level and overflowed the indexer thread's stack.
        'hostile/iden-chain.heic': None,
        # 624 bytes: a grid whose ispe says 64², whose own size says
        # 32 767²; libheif allocated the canvas (6.3 GB).
        'hostile/grid-lying-size.heic': tiled('g64', 1, 1, 32767, 32767, 64),
        # 15 KB: a 10 × 10 grid of one tile said to be 64², an 8 192²
        # stream: 100 decodes of 67 megapixels (58 s) for a 640² photo.
        'hostile/tiles-lying-size.heic': tiled('flat8k', 10, 10, 640, 640, 64),
        # 15 KB: an image said to be 1 × 1, an 8 192² stream.
        'hostile/ispe-lying.heic': single('flat8k', 1, 1),
        # A 640² grid of one tile said to be 8 192² (it is): larger than the grid.
        'hostile/tile-larger-than-grid.heic': tiled('flat8k', 1, 1, 640, 640, 8192, said=(640, 640)),
        'hostile/depth-inflates.heic': depth,
        'hostile/alpha-chain.heic': alphas,
        # Honest: a 2 × 2 grid of the 64² image, and an iden over it.
        'photos/grid-2x2.heic': tiled('g64', 2, 2, 128, 128, 64),
        'photos/iden.heic': None,
    }
    hvcc, coded = streams['g64']
    chain = HEIF()
    depth = 1000
    size = chain.property(ispe(64, 64))
    config = chain.property(hvcc)
    for item in range(1, depth):
        chain.item(item, b'iden', b'')
        chain.associate(item, size)
        chain.reference(b'dimg', item, [item + 1])
    chain.item(depth, b'hvc1', coded)
    chain.associate(depth, config, True)
    chain.associate(depth, size)
    outputs['hostile/iden-chain.heic'] = chain
    iden = HEIF()
    iden.item(1, b'iden', b'')
    iden.item(2, b'hvc1', coded)
    size, config = iden.property(ispe(64, 64)), iden.property(hvcc)
    iden.associate(1, size)
    iden.associate(2, config, True)
    iden.associate(2, size)
    iden.reference(b'dimg', 1, [2])
    outputs['photos/iden.heic'] = iden
    for name, f in outputs.items():
        with open(os.path.join(fixtures, name), 'wb') as out:
            out.write(f.build())
    # 500 items of 65 535 extents of no bytes each, in 4 KB: 543 MB of
    # extents when they were all kept.
    entries = b''.join(struct.pack('>HHHH', item + 1, 0, 0, 0xFFFF) for item in range(500))
    iloc = full_box(b'iloc', 1, 0, bytes([0, 0]) + struct.pack('>H', 500) + entries)
    hdlr = full_box(b'hdlr', 0, 0, b'\0' * 4 + b'pict' + b'\0' * 13)
    with open(os.path.join(fixtures, 'hostile/empty-extents.heic'), 'wb') as out:
        out.write(box(b'ftyp', b'heic' + struct.pack('>I', 0) + b'mif1heicmiaf') + full_box(b'meta', 0, 0, hdlr + iloc))


if __name__ == '__main__':
    main(sys.argv[1])
