#!/usr/bin/env python3
"""Writes fixtures/photos/places/*.jpg: small real photos (scikit-image's)
carrying EXIF GPS positions as cameras write them (degrees, minutes, seconds
as rationals; N/S and E/W references), for the tests of places: where each
photo was taken, place filters, `in:` terms and `photosearch places`. Not
run by CI; the output is committed. From the repository root:

    /tmp/venv/bin/python scripts/make-gps-fixtures.py
"""
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

OUT = Path(__file__).resolve().parent.parent / "fixtures/photos/places"

# name: (image, crop corner, latitude, longitude, date taken)
PHOTOS = {
    "lisbon.jpg": ("astronaut", (0, 0), 38.71667, -9.13333, "2019:06:12 10:15:00"),       # Lisbon (Lisboa), PT
    "porto.jpg": ("coffee", (0, 0), 41.14961, -8.61099, "2019:06:15 18:02:00"),           # Porto, PT
    "tokyo.jpg": ("chelsea", (0, 0), 35.6895, 139.69171, "2023:04:02 08:30:00"),          # Tokyo (東京), JP
    "paris-france.jpg": ("rocket", (0, 0), 48.85341, 2.3488, "2022:09:01 14:00:00"),      # Paris, Île-de-France, FR
    "paris-texas.jpg": ("camera", (0, 0), 33.66094, -95.55551, "2021:03:20 12:00:00"),    # Paris, Texas, US
    "são paulo.jpg": ("astronaut", (200, 200), -23.5475, -46.63611, "2020:01:05 16:45:00"),  # São Paulo, BR (south, west)
    "fiji.jpg": ("coffee", (150, 250), -16.7875, 179.9833, "2018:11:11 11:11:00"),        # by the antimeridian, FJ
    "atlantic.jpg": ("chelsea", (100, 150), 0.5, -30.0, "2018:07:01 09:00:00"),           # the open sea: no place
    "null-island.jpg": ("rocket", (100, 100), 0.0, 0.0, "2017:05:05 05:05:00"),           # (0, 0): a broken phone, no position
}


def dms(value):
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 100)
    return ((degrees, 1), (minutes, 1), (seconds, 100))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (source, (top, left), latitude, longitude, taken) in PHOTOS.items():
        pixels = getattr(data, source)()
        if pixels.ndim == 2:
            pixels = np.stack([pixels] * 3, axis=-1)
        image = Image.fromarray(pixels[top:top + 256, left:left + 256, :3]).resize((96, 96), Image.Resampling.LANCZOS)
        exif = Image.Exif()
        exif[0x010F] = "photosearch"
        exif[0x0110] = "GPS fixture"
        exif.get_ifd(0x8769)[0x9003] = taken
        gps = exif.get_ifd(0x8825)
        gps[0] = b"\x02\x03\x00\x00"
        gps[1] = "N" if latitude >= 0 else "S"
        gps[2] = tuple(n / d for n, d in dms(latitude))
        gps[3] = "E" if longitude >= 0 else "W"
        gps[4] = tuple(n / d for n, d in dms(longitude))
        image.save(OUT / name, quality=85, exif=exif)
        print(name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
