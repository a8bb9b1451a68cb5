#!/usr/bin/env python3
"""How photosearch's int8 scheme was chosen: simulated quantisation (PyTorch,
float arithmetic on quantised values) of a random ViT-B/32 as open_clip
creates it without pretrained weights (the same initialisation photosearch's
random models draw), against its float32 output, on the fixture photos and a
few captions. Not run by CI; its table is in the README.

    /tmp/venv/bin/pip install torch open_clip_torch pillow
    /tmp/venv/bin/python scripts/int8-study.py

Every nn.Linear and attention projection goes through `linear` below, with
torch's fused attention disabled so that the attention projections are
quantised too (the fused path bypasses torch.nn.functional.linear).
Weights are always int8 per output channel, symmetric (max |w| / 127).
"""
import os

import open_clip
import torch
import torch.nn.functional as F
from PIL import Image

torch.backends.mha.set_fastpath_enabled(False)
torch.manual_seed(0)
ROOT = os.path.join(os.path.dirname(__file__), "..")


def weights(w):
    s = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
    return (w / s).round().clamp(-127, 127) * s


def per_tensor(x):
    s = x.abs().amax().clamp_min(1e-12) / 127
    return (x / s).round().clamp(-127, 127) * s


def per_token(x):
    s = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / 127
    return (x / s).round().clamp(-127, 127) * s


def per_token_zero_point(x):
    lo = x.amin(dim=-1, keepdim=True).clamp(max=0)
    hi = x.amax(dim=-1, keepdim=True).clamp(min=0)
    s = ((hi - lo) / 255).clamp_min(1e-12)
    z = (-lo / s).round()
    return ((x / s).round() + z).clamp(0, 255).sub(z) * s


model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
TEXT_OUT = {tuple(block.attn.out_proj.weight.shape) for block in model.transformer.resblocks}
SETTING = {}
plain_linear = F.linear


def linear(x, w, b=None):
    if SETTING and not (SETTING.get("text_out_fp32") and tuple(w.shape) in TEXT_OUT and w.shape[0] == model.transformer.width):
        w, x = weights(w), SETTING["activations"](x)
    return plain_linear(x, w, b)


F.linear = linear
torch.nn.Linear.forward = lambda self, x: linear(x, self.weight, self.bias)

preprocess = open_clip.image_transform(224, is_train=False)
photos = ["chelsea.png", "rocket.jpg", "coffee-portrait.jpg", "astronaut-progressive.jpg", "camera.png"]
images = torch.stack([preprocess(Image.open(os.path.join(ROOT, "fixtures/photos", name)).convert("RGB")) for name in photos])
texts = open_clip.get_tokenizer("ViT-B-32")([
    "a cat", "a dog running on the beach at sunset", "snowy mountains", "a red bicycle against a wall", "海边的日落",
    "a ginger cat lying on a rug", "city lights at night", "a birthday cake with candles", "一只猫", "a photo of a dog"])

with torch.no_grad():
    reference_images, reference_texts = model.encode_image(images), model.encode_text(texts)
    print(f"{'activations':44s} {'photos: worst':>14s} {'mean':>8s} {'captions: worst':>16s} {'mean':>8s}")
    for label, setting in [
        ("per tensor, symmetric", {"activations": per_tensor}),
        ("per token, symmetric", {"activations": per_token}),
        ("per token, zero point", {"activations": per_token_zero_point}),
        ("per token, zero point; text out-proj fp32", {"activations": per_token_zero_point, "text_out_fp32": True}),
    ]:
        SETTING.clear()
        SETTING.update(setting)
        photo = F.cosine_similarity(model.encode_image(images).double(), reference_images.double(), dim=-1)
        caption = F.cosine_similarity(model.encode_text(texts).double(), reference_texts.double(), dim=-1)
        print(f"{label:44s} {photo.min():14.5f} {photo.mean():8.5f} {caption.min():16.5f} {caption.mean():8.5f}")
