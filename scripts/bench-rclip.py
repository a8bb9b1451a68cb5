#!/usr/bin/env python3
"""End to end against rclip: the same 12 MP JPEGs, the same random ViT-B/32
weights, each tool indexing a fresh folder and answering one query, as
child processes on the same machine, alternating for --rounds rounds.

    /tmp/venv/bin/pip install rclip==3.3.0 torch open_clip_torch onnx onnxscript safetensors
    /tmp/venv/bin/python scripts/bench-rclip.py --photosearch .build/release/photosearch [--photos 200] [--rounds 3]

The photos and the model come from `photosearch-bench index` (run first, in
--folder). rclip 3.3 runs a ViT-B/32 through ONNX Runtime from its data
folder; here that folder ($RCLIP_DATADIR) holds the same weights exported
with torch.onnx, and rclip's preprocessing is set to 224 px, the model's
size (rclip's own model is the 256 px variant: this makes rclip's work a
little smaller, not larger). photosearch runs from an empty prepared-model
cache each round, so both include loading and preparing their model.
Prints images per second and peak memory of each; the last line is JSON.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
QUERY = "a dog running on the beach at sunset"


def child(arguments, environment, cwd=None):
    """Wall seconds and peak RSS (MB) of a child run to the end."""
    start = time.perf_counter()
    process = subprocess.Popen(arguments, env=environment, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    error = process.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(arguments)} failed:\n{error}")
    return seconds, usage.ru_maxrss / 1024


def export_for_rclip(model_folder, data_folder):
    """rclip's data folder with the photosearch model's weights as ONNX."""
    import open_clip
    import torch
    from safetensors.torch import load_file

    target = os.path.join(data_folder, RCLIP_SUBDIR)
    if os.path.isfile(os.path.join(target, "textual.onnx")):
        return
    os.makedirs(target, exist_ok=True)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    missing = model.load_state_dict(load_file(os.path.join(model_folder, "open_clip_model.safetensors")), strict=False)
    assert missing.missing_keys in ([], ["logit_scale"]), missing

    class Image(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixels):
            return self.model.encode_image(pixels)

    class Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, tokens):
            return self.model.encode_text(tokens)

    tokens = open_clip.get_tokenizer("ViT-B-32")([QUERY])
    torch.onnx.export(Image(), (torch.randn(1, 3, 224, 224),), os.path.join(target, "visual.onnx"),
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False)
    torch.onnx.export(Text(), (tokens,), os.path.join(target, "textual.onnx"),
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False)
    vocabulary = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    os.makedirs(os.path.join(data_folder, "tokenizer"), exist_ok=True)
    shutil.copy(vocabulary, os.path.join(data_folder, "tokenizer", "bpe_simple_vocab_16e6.txt.gz"))


RCLIP = ("import sys, rclip.utils.preprocess as preprocess; preprocess.IMAGE_SIZE = 224; "
         "from rclip.main import main; sys.argv = ['rclip', '--filepath-only', sys.argv[1]]; main()")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--export":
        # In a child of its own: the peak memory wait4 reports for a child
        # counts what it inherited before exec, so the measuring process must
        # stay small (no torch).
        export_for_rclip(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--photosearch", required=True)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--folder", default="/tmp/photosearch-bench-rclip")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    photosearch = os.path.abspath(args.photosearch)
    folder = os.path.abspath(args.folder)
    bench = os.path.join(os.path.dirname(photosearch), "photosearch-bench")
    subprocess.run([bench, "index", "--photos", str(args.photos), "--folder", folder, "--photosearch", photosearch], check=True,
                   stdout=subprocess.DEVNULL)
    photos, model = os.path.join(folder, "photos"), os.path.join(folder, "vit-b-32")
    count = len([name for name in os.listdir(photos) if name.endswith(".jpg")])
    data = os.path.join(folder, "rclip-data")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--export", model, data], check=True)

    rounds = []
    for _ in range(max(1, args.rounds)):
        figures = {}
        # photosearch: index then search, from an empty prepared-model cache.
        environment = {**os.environ, "XDG_CACHE_HOME": os.path.join(folder, "bench-cache")}
        shutil.rmtree(environment["XDG_CACHE_HOME"], ignore_errors=True)
        database = os.path.join(folder, "bench-ours.sqlite")
        for suffix in ("", "-wal", "-shm", ".vectors", ".lock"):
            if os.path.exists(database + suffix):
                os.remove(database + suffix)
        index_seconds, index_rss = child([photosearch, "index", photos, "--db", database, "--model", model], environment)
        search_seconds, _ = child([photosearch, "search", QUERY, "--db", database, "--model", model], environment)
        figures["photosearch_images_per_second"] = count / (index_seconds + search_seconds)
        figures["photosearch_peak_rss_mb"] = index_rss
        # rclip: a fresh database, indexing the working folder, then the query.
        environment = {**os.environ, "RCLIP_DATADIR": data}
        database = os.path.join(data, "db.sqlite3")
        if os.path.exists(database):
            os.remove(database)
        seconds, rss = child([sys.executable, "-c", RCLIP, QUERY], environment, cwd=photos)
        figures["rclip_images_per_second"] = count / seconds
        figures["rclip_peak_rss_mb"] = rss
        figures["ratio"] = figures["photosearch_images_per_second"] / figures["rclip_images_per_second"]
        rounds.append(figures)
        print("round:", json.dumps({key: round(value, 2) for key, value in figures.items()}), flush=True)
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    for key, value in medians.items():
        print(f"{key}: {value:.2f}")
    print(json.dumps({**{key: round(value, 2) for key, value in medians.items()}, "photos": count, "rounds": len(rounds)}))


if __name__ == "__main__":
    main()
