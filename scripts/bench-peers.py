#!/usr/bin/env python3
"""Times the peers of `photosearch bench encoder` on the same machine: a
ViT-B/32 CLIP (open_clip "ViT-B-32", random weights) in ONNX Runtime (exported
from open_clip with torch.onnx) and in PyTorch, CPU only, all cores.

    /tmp/venv/bin/pip install torch==2.15.0 open_clip_torch==3.3.0 onnxruntime==1.32.0 onnx onnxscript
    /tmp/venv/bin/python scripts/bench-peers.py [--seconds 5] [--photosearch .build/release/photosearch --rounds 3]

Prints images/s at batch 1, 8 and 32 and the median latency of one text query
(tokenizing included) for each runtime; the last line is JSON. With
--photosearch, `photosearch bench encoder` runs too, alternating with the
peers for --rounds rounds, and the medians and ratios are reported: shared
machines drift by tens of percent over minutes, so only figures taken
side by side compare.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort
import open_clip
import torch


def rate(run, batch, seconds):
    run(batch)
    images, start = 0, time.perf_counter()
    while True:
        run(batch)
        images += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and images >= 2 * batch:
            return images / elapsed


def latency_ms(run, seconds):
    run()
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(samples) < 5:
        before = time.perf_counter()
        run()
        samples.append((time.perf_counter() - before) * 1000)
    return statistics.median(samples)


class ImageTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        return self.model.encode_image(pixels)


class TextTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens):
        return self.model.encode_text(tokens)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--photosearch", help="path to the photosearch executable, to alternate with the peers")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    query = "a dog running on the beach at sunset"

    folder = tempfile.mkdtemp()
    image_path, text_path = os.path.join(folder, "image.onnx"), os.path.join(folder, "text.onnx")
    torch.onnx.export(ImageTower(model), (torch.randn(1, 3, 224, 224),), image_path,
                      input_names=["pixels"], output_names=["embedding"],
                      dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}}, dynamo=False)
    torch.onnx.export(TextTower(model), (tokenizer([query]),), text_path,
                      input_names=["tokens"], output_names=["embedding"],
                      dynamic_axes={"tokens": {0: "batch"}, "embedding": {0: "batch"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    image_session = ort.InferenceSession(image_path, options, providers=["CPUExecutionProvider"])
    text_session = ort.InferenceSession(text_path, options, providers=["CPUExecutionProvider"])

    rounds = []
    for _ in range(max(1, args.rounds)):
        results = {}
        if args.photosearch:
            output = subprocess.run([args.photosearch, "bench", "encoder", "--seconds", str(args.seconds)],
                                    capture_output=True, text=True, check=True).stdout
            for key, value in json.loads(output.strip().splitlines()[-1]).items():
                results["photosearch_" + key] = value
        for batch in (1, 8, 32):
            pixels = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
            results[f"onnxruntime_images_per_second_b{batch}"] = rate(
                lambda b: image_session.run(None, {"pixels": pixels[:b]}), batch, args.seconds)
        results["onnxruntime_text_query_ms"] = latency_ms(
            lambda: text_session.run(None, {"tokens": tokenizer([query]).numpy()}), args.seconds)
        with torch.inference_mode():
            for batch in (1, 8, 32):
                pixels = torch.randn(batch, 3, 224, 224)
                results[f"pytorch_images_per_second_b{batch}"] = rate(lambda b: model.encode_image(pixels[:b]), batch, args.seconds)
            results["pytorch_text_query_ms"] = latency_ms(lambda: model.encode_text(tokenizer([query])), args.seconds)
        rounds.append(results)
        print("round:", json.dumps({k: round(v, 2) for k, v in results.items()}))

    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    if args.photosearch:
        for batch in (1, 8, 32):
            medians[f"ratio_to_onnxruntime_b{batch}"] = statistics.median(
                r[f"photosearch_images_per_second_b{batch}"] / r[f"onnxruntime_images_per_second_b{batch}"] for r in rounds)
        medians["ratio_to_onnxruntime_text"] = statistics.median(
            r["onnxruntime_text_query_ms"] / r["photosearch_text_query_ms"] for r in rounds)
    versions = {"torch": torch.__version__, "onnxruntime": ort.__version__, "open_clip": open_clip.__version__}
    for key, value in medians.items():
        print(f"{key}: {value:.2f}")
    print(json.dumps({**{k: round(v, 2) for k, v in medians.items()}, "rounds": len(rounds), "threads": threads, "versions": versions}))


if __name__ == "__main__":
    main()
