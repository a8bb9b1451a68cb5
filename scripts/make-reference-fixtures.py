#!/usr/bin/env python3
"""Builds the reference fixtures under fixtures/: small random CLIP models in
both public checkpoint layouts, test photos, and what open_clip and
transformers compute for them. Not run by CI; the outputs are committed.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install \
        torch==2.15.0 open_clip_torch==3.3.0 transformers==5.24.0 \
        scikit-image==0.26.0 pillow==13.0.0 pillow-heif==1.8.1 safetensors==0.8.0 ftfy==6.3.1 numpy
    /tmp/venv/bin/python scripts/make-reference-fixtures.py

Random weights are drawn to make the models sensitive to their input (default
initialisation maps every photo to nearly the same vector and cannot tell one
resampling filter from another): weight matrices normal with std 2/sqrt(fan_in),
LayerNorm weights 1±0.1, biases and embeddings ±0.1. The script checks that
different photos give cosine < 0.9 and that bilinear instead of bicubic
resizing moves an embedding (cosine < 0.999).
"""
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import open_clip
import PIL
import pillow_heif
import skimage
import torch
import transformers
from PIL import Image, ImageOps
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
torch.manual_seed(0)
rng = np.random.default_rng(0)

VERSIONS = {
    "python": sys.version.split()[0],
    "torch": torch.__version__,
    "open_clip_torch": open_clip.__version__,
    "transformers": transformers.__version__,
    "pillow": PIL.__version__,
    "scikit-image": skimage.__version__,
    "pillow-heif": pillow_heif.__version__,
    "libheif (pillow-heif)": pillow_heif.libheif_version(),
}

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

TEXTS = [
    "",
    "a photo of a cat",
    "A dog running on the beach at sunset",
    "Café “naïve” — résumé, déjà-vu!!! ... it's 3:45pm & we're HERE",
    "一只在沙发上睡觉的猫",
    "Tom &amp; Jerry &lt;3 &eacute;t&eacute; &NTILDE; &#x1F600; &copy2024 &amp;amp;",
    "ΟΔΥΣΣΕΥΣ and ﬁsh in ＬＯＵＤ　ＮＯＩＳＥＳ",
    "🐶🏖️🌅 emoji only, plus 1234567 numbers",
    "  tabs\tand\nnewlines\u00a0and\u3000wide   spaces  ",
    "I'LL say DON'T, they've 'quoted' it''s",
    "a <b>bold</b> &amp; move",
    " ".join(["a long caption about a red bicycle leaning against a wall"] * 12),
]


# --------------------------------------------------------------------------
# Photos


def save_photos():
    photos = FIXTURES / "photos"
    if photos.exists():
        shutil.rmtree(photos)
    photos.mkdir(parents=True)
    shutil.copy(SKIMAGE_DATA / "chelsea.png", photos / "chelsea.png")        # 451x300 RGB PNG
    shutil.copy(SKIMAGE_DATA / "rocket.jpg", photos / "rocket.jpg")          # 640x427 baseline JPEG
    shutil.copy(SKIMAGE_DATA / "camera.png", photos / "camera.png")          # 512x512 greyscale PNG
    coffee = Image.open(SKIMAGE_DATA / "coffee.png").convert("RGB")
    coffee.crop((170, 0, 437, 400)).save(photos / "coffee-portrait.jpg", quality=90)  # 267x400
    astronaut = Image.open(SKIMAGE_DATA / "astronaut.png").convert("RGB")
    astronaut.crop((100, 30, 400, 480)).save(photos / "astronaut-progressive.jpg", quality=90, progressive=True)
    # RGBA: chelsea with a radial alpha ramp (transparent corners).
    cat = Image.open(SKIMAGE_DATA / "chelsea.png").convert("RGB").crop((60, 0, 360, 240))
    yy, xx = np.mgrid[0:240, 0:300]
    radius = np.sqrt(((xx - 150) / 150) ** 2 + ((yy - 120) / 120) ** 2)
    alpha = np.clip(255 * (1.3 - radius), 0, 255).astype(np.uint8)
    rgba = np.dstack([np.asarray(cat), alpha])
    Image.fromarray(rgba, "RGBA").save(photos / "chelsea-alpha.png")
    # Sideways photo: stored rotated, EXIF orientation 6 says "rotate 90° clockwise to view".
    upright = Image.open(SKIMAGE_DATA / "chelsea.png").convert("RGB")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # inverse of orientation 6's ROTATE_270
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(photos / "chelsea-orientation-6.jpg", quality=92, exif=exif.tobytes())
    check = ImageOps.exif_transpose(Image.open(photos / "chelsea-orientation-6.jpg"))
    assert check.size == upright.size, "orientation 6 fixture does not turn upright"

    # Squares of exactly each model's image size (preprocessing is then the identity).
    for size in (64, 48):
        for name, source in (("astronaut", "astronaut.png"), ("coffee", "coffee.png"), ("chelsea", "chelsea.png")):
            image = Image.open(SKIMAGE_DATA / source).convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
            square.save(photos / f"{name}-{size}.png")
    # One square as JPEG, to compare JPEG decoding on an identity preprocess.
    Image.open(photos / "coffee-64.png").save(photos / "coffee-64.jpg", quality=95)

    # WebP (lossy; lossless with alpha) and HEIC with EXIF date and camera.
    cat_small = Image.open(SKIMAGE_DATA / "chelsea.png").convert("RGB")
    cat_small.save(photos / "chelsea.webp", quality=90)
    Image.open(photos / "chelsea-alpha.png").crop((0, 0, 150, 120)).save(photos / "chelsea-alpha-lossless.webp", lossless=True)
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:17 09:41:00"
    pillow_heif.register_heif_opener()
    coffee.save(photos / "coffee.heic", quality=90, exif=exif.tobytes())
    return photos


def save_orientation_fixtures():
    """Eight PNGs whose eXIf orientation tag (1-8) turns them into the same upright image."""
    folder = FIXTURES / "orientation"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    upright = Image.open(SKIMAGE_DATA / "chelsea.png").convert("RGB").crop((100, 20, 160, 60))  # 60x40
    upright.save(folder / "upright.png")
    T = Image.Transpose
    # How to store the pixels so that exif_transpose(stored) == upright.
    stored_from_upright = {
        1: None, 2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM,
        5: T.TRANSPOSE, 6: T.ROTATE_90, 7: T.TRANSVERSE, 8: T.ROTATE_270,
    }
    for orientation, method in stored_from_upright.items():
        stored = upright if method is None else upright.transpose(method)
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = folder / f"orientation-{orientation}.png"
        stored.save(path, exif=exif.tobytes())
        turned = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        assert np.array_equal(np.asarray(turned), np.asarray(upright)), f"orientation {orientation}"


def save_decoded_references(photos):
    """Pillow's decoding of each JPEG and its preprocessed 64 px input, as PNGs."""
    out = FIXTURES / "reference" / "pixels"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in sorted(list(photos.glob("*.jpg")) + list(photos.glob("*.webp")) + list(photos.glob("*.heic"))):
        image = Image.open(path)
        image.convert("RGBA" if image.mode in ("RGBA", "LA") else "RGB").save(out / f"{path.stem}.decoded.png")
    for path in sorted(photos.iterdir()):
        if path.stem.endswith(("-64", "-48")) or path.suffix in (".webp", ".heic"):
            continue
        image = Image.open(path)
        if "orientation" in path.stem:
            image = ImageOps.exif_transpose(image)
        for interpolation in ("bicubic", "bilinear"):
            transform = open_clip.image_transform(64, is_train=False, interpolation=interpolation)
            resize_and_crop = open_clip.transform.Compose(transform.transforms[:3])  # Resize, CenterCrop, convert RGB
            resize_and_crop(image).save(out / f"{path.stem}.{interpolation}-64.png")


# --------------------------------------------------------------------------
# Random weights


def sensitive_init_(name, tensor):
    """In place: weight matrices normal with std 2/sqrt(fan_in), LayerNorm
    weights 1±0.1, biases and embeddings ±0.1 (uniform)."""
    with torch.no_grad():
        lowered = name.lower()
        is_norm = any(key in lowered for key in ("ln_", "norm", "layrnorm", "layernorm"))
        if is_norm and name.endswith("weight"):
            tensor.uniform_(0.9, 1.1)
        elif name.endswith("bias") or tensor.dim() == 1 or "embedding" in lowered:
            tensor.uniform_(-0.1, 0.1)
        elif name in ("visual.proj", "text_projection"):
            tensor.normal_(0, 2 / math.sqrt(tensor.shape[0]))  # open_clip stores x @ proj: fan_in first
        else:
            tensor.normal_(0, 2 / math.sqrt(int(np.prod(tensor.shape[1:]))))


def randomise(model):
    for name, parameter in model.named_parameters():
        sensitive_init_(name, parameter)


# --------------------------------------------------------------------------
# Models


def open_clip_config(embed_dim, vision, text, quick_gelu, mean, std):
    return {
        "model_cfg": {"embed_dim": embed_dim, "quick_gelu": quick_gelu, "vision_cfg": vision, "text_cfg": text},
        "preprocess_cfg": {"mean": mean, "std": std, "interpolation": "bicubic", "resize_mode": "shortest"},
    }


def write_open_clip_dir(folder, config, state_dict, dtype):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in state_dict.items() if k != "attn_mask"}
    save_file(tensors, folder / "open_clip_model.safetensors", metadata={"format": "pt"})


def load_open_clip(folder):
    model, preprocess = open_clip.create_model_from_pretrained(f"local-dir:{folder}")
    model.eval()
    return model, preprocess


def bpe_vocab_files(folder):
    """vocab.json and merges.txt as transformers' CLIPTokenizer reads them, from open_clip's BPE file."""
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    encoder = dict(tokenizer.encoder)
    encoder["<|startoftext|>"] = encoder.pop("<start_of_text>")
    encoder["<|endoftext|>"] = encoder.pop("<end_of_text>")
    (folder / "vocab.json").write_text(json.dumps(encoder, ensure_ascii=False))
    merges = sorted(tokenizer.bpe_ranks.items(), key=lambda item: item[1])
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in merges) + "\n")


def hf_to_open_clip(state, layers_vision, layers_text):
    """Renames a transformers CLIPModel state dict to open_clip's CLIP keys."""
    out = {}
    v, t = "vision_model.", "text_model."
    out["visual.conv1.weight"] = state[v + "embeddings.patch_embedding.weight"]
    out["visual.class_embedding"] = state[v + "embeddings.class_embedding"]
    out["visual.positional_embedding"] = state[v + "embeddings.position_embedding.weight"]
    out["visual.ln_pre.weight"] = state[v + "pre_layrnorm.weight"]
    out["visual.ln_pre.bias"] = state[v + "pre_layrnorm.bias"]
    out["visual.ln_post.weight"] = state[v + "post_layernorm.weight"]
    out["visual.ln_post.bias"] = state[v + "post_layernorm.bias"]
    out["visual.proj"] = state["visual_projection.weight"].t()
    out["token_embedding.weight"] = state[t + "embeddings.token_embedding.weight"]
    out["positional_embedding"] = state[t + "embeddings.position_embedding.weight"]
    out["ln_final.weight"] = state[t + "final_layer_norm.weight"]
    out["ln_final.bias"] = state[t + "final_layer_norm.bias"]
    out["text_projection"] = state["text_projection.weight"].t()
    out["logit_scale"] = state["logit_scale"]
    for source, target, layers in ((v, "visual.transformer", layers_vision), (t, "transformer", layers_text)):
        for i in range(layers):
            s, d = f"{source}encoder.layers.{i}.", f"{target}.resblocks.{i}."
            out[d + "ln_1.weight"] = state[s + "layer_norm1.weight"]
            out[d + "ln_1.bias"] = state[s + "layer_norm1.bias"]
            out[d + "ln_2.weight"] = state[s + "layer_norm2.weight"]
            out[d + "ln_2.bias"] = state[s + "layer_norm2.bias"]
            out[d + "attn.in_proj_weight"] = torch.cat([state[s + f"self_attn.{p}_proj.weight"] for p in "qkv"])
            out[d + "attn.in_proj_bias"] = torch.cat([state[s + f"self_attn.{p}_proj.bias"] for p in "qkv"])
            out[d + "attn.out_proj.weight"] = state[s + "self_attn.out_proj.weight"]
            out[d + "attn.out_proj.bias"] = state[s + "self_attn.out_proj.bias"]
            out[d + "mlp.c_fc.weight"] = state[s + "mlp.fc1.weight"]
            out[d + "mlp.c_fc.bias"] = state[s + "mlp.fc1.bias"]
            out[d + "mlp.c_proj.weight"] = state[s + "mlp.fc2.weight"]
            out[d + "mlp.c_proj.bias"] = state[s + "mlp.fc2.bias"]
    return out


def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def token_ids(text):
    tokenizer = open_clip.tokenizer._tokenizer
    ids = [tokenizer.sot_token_id] + tokenizer.encode(text) + [tokenizer.eot_token_id]
    if len(ids) > 77:
        ids = ids[:77]
        ids[-1] = tokenizer.eot_token_id
    padded = open_clip.tokenize([text])[0].tolist()
    assert padded[: len(ids)] == ids and all(x == 0 for x in padded[len(ids):])
    return ids


def image_inputs(photo_names, preprocess, photos):
    tensors = []
    for name in photo_names:
        image = Image.open(photos / name)
        if "orientation" in name:
            image = ImageOps.exif_transpose(image)
        tensors.append(preprocess(image))
    return torch.stack(tensors)


def draft_inputs(photo_names, preprocess, photos, size):
    """JPEGs decoded at a reduced DCT scale, as Pillow's draft mode (and
    photosearch's indexer) does: the largest reduction keeping both sides at
    least `size`."""
    tensors = []
    for name in photo_names:
        image = Image.open(photos / name)
        image.draft("RGB", (size, size))
        if "orientation" in name:
            image = ImageOps.exif_transpose(image)
        tensors.append(preprocess(image))
    return torch.stack(tensors)


def reference(name, layout, model_dir, photo_names, texts, encode_image, encode_text, preprocess, photos, extra=None,
              draft_size=None):
    with torch.no_grad():
        pixels = image_inputs(photo_names, preprocess, photos)
        image_embeddings = encode_image(pixels)
        jpegs = [photo for photo in photo_names if photo.endswith(".jpg")]
        draft_embeddings = encode_image(draft_inputs(jpegs, preprocess, photos, draft_size)) if draft_size else None
        text_entries = []
        for text in texts:
            ids = token_ids(text)
            # Padded to the context length as each library's tokenizer pads:
            # open_clip with 0, transformers' CLIPTokenizer with <|endoftext|>.
            padding = 0 if layout == "open_clip" else ids[-1]
            embedding = encode_text(torch.tensor([ids + [padding] * (77 - len(ids))]))[0]
            text_entries.append({"text": text, "ids": ids, "embedding": embedding.tolist()})
    document = {
        "model": name,
        "layout": layout,
        "directory": str(model_dir.relative_to(FIXTURES)),
        "versions": VERSIONS,
        "images": [
            {"file": f"photos/{photo}", "embedding": image_embeddings[i].tolist()}
            for i, photo in enumerate(photo_names)
        ],
        "texts": text_entries,
    }
    if draft_embeddings is not None:
        document["draft_images"] = [
            {"file": f"photos/{photo}", "draft_size": draft_size, "embedding": draft_embeddings[i].tolist()}
            for i, photo in enumerate(jpegs)
        ]
    if extra:
        document.update(extra)
    out = FIXTURES / "reference" / f"{name}.json"
    out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return document


def sensitivity(document, encode_image, size, mean, std, photos, names):
    """Cosines that show the model sees its input."""
    embeddings = {Path(e["file"]).name: e["embedding"] for e in document["images"]}
    pairs = [cosine(embeddings[a], embeddings[b]) for i, a in enumerate(names) for b in names[i + 1:]]
    bilinear = open_clip.image_transform(size, is_train=False, mean=mean, std=std, interpolation="bilinear")
    with torch.no_grad():
        moved = encode_image(bilinear(Image.open(photos / "chelsea.png")).unsqueeze(0))[0].tolist()
    bilinear_cosine = cosine(moved, embeddings["chelsea.png"])
    assert max(pairs) < 0.9, f"photos too similar: {max(pairs)}"
    assert bilinear_cosine < 0.999, f"bilinear resize does not move the embedding: {bilinear_cosine}"
    return {"max_cosine_between_photos": max(pairs), "cosine_bicubic_vs_bilinear": bilinear_cosine}


LARGE_PHOTOS = [
    "chelsea.png", "rocket.jpg", "camera.png", "coffee-portrait.jpg",
    "astronaut-progressive.jpg", "chelsea-alpha.png", "chelsea-orientation-6.jpg",
]


def make_open_clip_model(photos):
    name = "oc-vit-gelu-p16"
    folder = FIXTURES / "models" / name
    if folder.exists():
        shutil.rmtree(folder)
    vision = {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16}
    text = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}
    config = open_clip_config(32, vision, text, False, OPENAI_MEAN, OPENAI_STD)
    model = open_clip.model.CLIP(embed_dim=32, vision_cfg=vision, text_cfg=text, quick_gelu=False)
    randomise(model)
    write_open_clip_dir(folder, config, model.state_dict(), torch.float32)

    loaded, preprocess = load_open_clip(folder)
    squares = ["astronaut-64.png", "coffee-64.png", "chelsea-64.png", "coffee-64.jpg"]
    texts = TEXTS + ["a cat <end_of_text> and more"]
    document = reference(name, "open_clip", folder, squares + LARGE_PHOTOS, texts,
                         loaded.encode_image, loaded.encode_text, preprocess, photos, draft_size=64)
    checks = sensitivity(document, loaded.encode_image, 64, OPENAI_MEAN, OPENAI_STD, photos, squares[:3] + ["rocket.jpg", "camera.png"])
    document["sensitivity"] = checks
    (FIXTURES / "reference" / f"{name}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(name, checks)


def make_transformers_model(photos):
    name = "hf-vit-quickgelu-p8"
    folder = FIXTURES / "models" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
    config = transformers.CLIPConfig(
        projection_dim=24,
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
        vision_config=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                           image_size=48, patch_size=8, hidden_act="quick_gelu"),
    )
    model = transformers.CLIPModel(config)
    randomise(model)
    model = model.half()
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": 48, "width": 48}, "do_center_crop": True, "do_normalize": True,
        "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255, "resample": 3,
        "image_mean": mean, "image_std": std, "size": {"shortest_edge": 48},
        "image_processor_type": "CLIPImageProcessor",
    }, indent=2) + "\n")
    bpe_vocab_files(folder)

    loaded = transformers.CLIPModel.from_pretrained(folder, dtype=torch.float32).eval()
    assert loaded.dtype == torch.float32
    preprocess = open_clip.image_transform(48, is_train=False, mean=mean, std=std)

    def encode_image(pixels):
        return loaded.get_image_features(pixel_values=pixels).pooler_output

    def encode_text(ids):
        return loaded.get_text_features(input_ids=ids).pooler_output

    squares = ["astronaut-48.png", "coffee-48.png", "chelsea-48.png"]
    document = reference(name, "transformers", folder, squares + LARGE_PHOTOS, TEXTS,
                         encode_image, encode_text, preprocess, photos)
    checks = sensitivity(document, encode_image, 48, mean, std, photos, squares + ["rocket.jpg", "camera.png"])
    document["sensitivity"] = checks
    print(name, checks)

    # The same weights in open_clip's layout (fp16 tensors): open_clip must agree.
    twin_name = "oc-vit-quickgelu-p8"
    twin = FIXTURES / "models" / twin_name
    if twin.exists():
        shutil.rmtree(twin)
    state = load_file(folder / "model.safetensors")
    twin_config = open_clip_config(
        24,
        {"image_size": 48, "layers": 3, "width": 48, "head_width": 12, "patch_size": 8, "mlp_ratio": 2.0},
        {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2, "mlp_ratio": 4.0},
        True, mean, std)
    write_open_clip_dir(twin, twin_config, hf_to_open_clip(state, 3, 2), torch.float16)
    twin_model, twin_preprocess = load_open_clip(twin)
    twin_document = reference(twin_name, "open_clip", twin, squares + LARGE_PHOTOS, TEXTS,
                              twin_model.encode_image, twin_model.encode_text, twin_preprocess, photos)
    for a, b in zip(document["images"] + document["texts"], twin_document["images"] + twin_document["texts"]):
        difference = np.abs(np.asarray(a["embedding"]) - np.asarray(b["embedding"])).max()
        assert difference < 1e-4, f"open_clip and transformers disagree on the twin models: {difference}"
    (FIXTURES / "reference" / f"{name}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(twin_name, "agrees with", name)


def main():
    (FIXTURES / "reference").mkdir(parents=True, exist_ok=True)
    photos = save_photos()
    save_orientation_fixtures()
    save_decoded_references(photos)
    make_open_clip_model(photos)
    make_transformers_model(photos)
    (FIXTURES / "reference" / "VERSIONS.json").write_text(json.dumps(VERSIONS, indent=2) + "\n")


if __name__ == "__main__":
    main()
