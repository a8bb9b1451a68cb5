#!/usr/bin/env python3
"""Times the peers of `photosearch-bench encoder` on the same machine: a
ViT-B/32 CLIP (open_clip "ViT-B-32", random weights; --model vit-b-32, the
default), a SigLIP 2 B/16 at 224 px (transformers SiglipModel in the shape
of google/siglip2-base-patch16-224, random weights; --model
siglip2-b-16-224, batches 1 and 8) or MobileCLIP 2 S0 or S2 at 256 px
(open_clip "MobileCLIP2-S0"/"-S2", random weights, in the inference form
timm's reparameterize_model folds them into, as photosearch runs them;
--model mobileclip2-s0|mobileclip2-s2, batches 1 and 8), CPU only, all
cores, in

  - ONNX Runtime, float32 (exported from open_clip with torch.onnx) and with
    its dynamic int8 quantisation (quantize_dynamic, per channel);
  - OpenVINO, float32 and int8 (NNCF post-training quantisation,
    model_type=TRANSFORMER for the transformers, the default for
    MobileCLIP's convolutions), each compiled for the batch size it runs;
  - PyTorch, float32;

and photosearch itself in both precisions (`photosearch-bench encoder --precision`).

    /tmp/venv/bin/pip install torch==2.15.0 open_clip_torch==3.3.0 onnxruntime==1.32.0 onnx onnxscript \\
        openvino==2026.4.1 nncf==3.4.0
    /tmp/venv/bin/python scripts/bench-peers.py [--seconds 5] [--photosearch .build/release/photosearch --rounds 3]

Prints images/s at batch 1, 8 and 32 and the median latency of one text query
for each runtime, then the ratios the acceptance criteria name; the last line
is JSON. With --photosearch, photosearch runs too, alternating with the peers
for --rounds rounds, and the medians of the per-round figures and ratios are
reported: shared machines drift by tens of percent over minutes, so only
figures taken side by side compare.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import nncf
import numpy as np
import onnxruntime as ort
import open_clip
import openvino as ov
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

BATCHES = (1, 8, 32)
SIZE = 224


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


def pixels(batch):
    return np.random.default_rng(batch).standard_normal((batch, 3, SIZE, SIZE), dtype=np.float32)


class SiglipImageTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        return self.model.vision_model(pixel_values=pixels).pooler_output


class SiglipTextTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens):
        return self.model.text_model(input_ids=tokens).pooler_output


def siglip2_base_224():
    """google/siglip2-base-patch16-224's shape with random weights, and a
    stand-in tokenizer: SigLIP's text tower always reads 64 ids."""
    from transformers import SiglipConfig, SiglipModel
    tower = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    config = SiglipConfig(vision_config=dict(tower, image_size=224, patch_size=16),
                          text_config=dict(tower, vocab_size=256000, max_position_embeddings=64, projection_size=768))
    model = SiglipModel(config).eval()

    def tokenize(texts):
        ids = torch.zeros((len(texts), 64), dtype=torch.long)
        for row, text in enumerate(texts):
            pieces = [1000 + (ord(c) % 200000) for c in text][:63] + [1]
            ids[row, :len(pieces)] = torch.tensor(pieces)
        return ids
    return model, tokenize, SiglipImageTower(model), SiglipTextTower(model)


class OpenVINO:
    """One compiled model per batch size (static shapes are OpenVINO's fast
    path), all cores, latency hint: one inference at a time, as photosearch
    runs them."""

    def __init__(self, model, threads):
        self.model, self.threads, self.compiled = model, threads, {}
        self.core = ov.Core()

    def run(self, batch, inputs):
        if batch not in self.compiled:
            shaped = self.model.clone()
            shaped.reshape({0: [batch, 3, SIZE, SIZE]})
            self.compiled[batch] = self.core.compile_model(
                shaped, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": self.threads})
        return self.compiled[batch](inputs)


def photosearch_figures(executable, precision, seconds, shape):
    bench = os.path.join(os.path.dirname(os.path.abspath(executable)), "photosearch-bench")
    output = subprocess.run([bench, "encoder", "--precision", precision, "--seconds", str(seconds), "--shape", shape,
                             "--batches", *map(str, BATCHES)],
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--photosearch", help="path to the photosearch executable, to alternate with the peers")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model", choices=["vit-b-32", "siglip2-b-16-224", "mobileclip2-s0", "mobileclip2-s2"],
                        default="vit-b-32")
    args = parser.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    global BATCHES, SIZE
    quantisation = {"model_type": nncf.ModelType.TRANSFORMER}
    if args.model == "siglip2-b-16-224":
        BATCHES = (1, 8)
        model, tokenizer, image_tower, text_tower = siglip2_base_224()
        encode_image, encode_text = image_tower, text_tower
    elif args.model.startswith("mobileclip2-"):
        from timm.utils.model import reparameterize_model
        BATCHES, SIZE, quantisation = (1, 8), 256, {}
        name = "MobileCLIP2-" + args.model.split("-")[1].upper()
        model = reparameterize_model(open_clip.create_model(name, pretrained=None).eval())
        tokenizer = open_clip.get_tokenizer(name)
        image_tower, text_tower = ImageTower(model), TextTower(model)
        encode_image, encode_text = model.encode_image, model.encode_text
    else:
        model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
        tokenizer = open_clip.get_tokenizer("ViT-B-32")
        image_tower, text_tower = ImageTower(model), TextTower(model)
        encode_image, encode_text = model.encode_image, model.encode_text
    query = "a dog running on the beach at sunset"

    folder = tempfile.mkdtemp()
    image_path, text_path = os.path.join(folder, "image.onnx"), os.path.join(folder, "text.onnx")
    image_int8_path = os.path.join(folder, "image-int8.onnx")
    torch.onnx.export(image_tower, (torch.randn(1, 3, SIZE, SIZE),), image_path,
                      input_names=["pixels"], output_names=["embedding"],
                      dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}}, dynamo=False)
    torch.onnx.export(text_tower, (tokenizer([query]),), text_path,
                      input_names=["tokens"], output_names=["embedding"],
                      dynamic_axes={"tokens": {0: "batch"}, "embedding": {0: "batch"}}, dynamo=False)
    quantize_dynamic(image_path, image_int8_path, weight_type=QuantType.QInt8, per_channel=True)

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sessions = {name: ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                for name, path in (("fp32", image_path), ("int8", image_int8_path))}
    text_session = ort.InferenceSession(text_path, options, providers=["CPUExecutionProvider"])

    image_model = ov.Core().read_model(image_path)
    calibration = nncf.Dataset([pixels(1) + 0.01 * index for index in range(64)])
    openvino = {
        "fp32": OpenVINO(image_model, threads),
        "int8": OpenVINO(nncf.quantize(image_model, calibration, subset_size=64, **quantisation), threads),
    }

    rounds = []
    for _ in range(max(1, args.rounds)):
        results = {}
        if args.photosearch:
            for precision in ("fp32", "int8"):
                for key, value in photosearch_figures(args.photosearch, precision, args.seconds, args.model).items():
                    if isinstance(value, (int, float)):
                        results[f"photosearch_{precision}_{key}"] = value
        for precision, session in sessions.items():
            for batch in BATCHES:
                inputs = pixels(batch)
                results[f"onnxruntime_{precision}_images_per_second_b{batch}"] = rate(
                    lambda b: session.run(None, {"pixels": inputs}), batch, args.seconds)
        results["onnxruntime_fp32_text_query_ms"] = latency_ms(
            lambda: text_session.run(None, {"tokens": tokenizer([query]).numpy()}), args.seconds)
        for precision, runtime in openvino.items():
            for batch in BATCHES:
                inputs = pixels(batch)
                results[f"openvino_{precision}_images_per_second_b{batch}"] = rate(
                    lambda b: runtime.run(b, inputs), batch, args.seconds)
        with torch.inference_mode():
            for batch in BATCHES:
                inputs = torch.from_numpy(pixels(batch))
                results[f"pytorch_fp32_images_per_second_b{batch}"] = rate(lambda b: encode_image(inputs), batch, args.seconds)
            results["pytorch_fp32_text_query_ms"] = latency_ms(lambda: encode_text(tokenizer([query])), args.seconds)
        if args.photosearch:
            for batch in BATCHES:
                best_ort = max(results[f"onnxruntime_fp32_images_per_second_b{batch}"],
                               results[f"onnxruntime_int8_images_per_second_b{batch}"])
                results[f"ratio_int8_to_best_onnxruntime_b{batch}"] = results[f"photosearch_int8_images_per_second_b{batch}"] / best_ort
                results[f"ratio_int8_to_openvino_int8_b{batch}"] = (
                    results[f"photosearch_int8_images_per_second_b{batch}"] / results[f"openvino_int8_images_per_second_b{batch}"])
                results[f"ratio_fp32_to_onnxruntime_fp32_b{batch}"] = (
                    results[f"photosearch_fp32_images_per_second_b{batch}"] / results[f"onnxruntime_fp32_images_per_second_b{batch}"])
        rounds.append(results)
        print("round:", json.dumps({k: round(v, 2) for k, v in results.items()}), flush=True)

    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    versions = {"torch": torch.__version__, "onnxruntime": ort.__version__, "openvino": ov.__version__,
                "nncf": nncf.__version__, "open_clip": open_clip.__version__}
    for key, value in medians.items():
        print(f"{key}: {value:.2f}")
    print(json.dumps({**{k: round(v, 3) for k, v in medians.items()}, "model": args.model, "rounds": len(rounds), "threads": threads,
                      "versions": versions}))


if __name__ == "__main__":
    main()
