#!/usr/bin/env python3
"""Fixtures for transformers-layout preprocessing and Chinese-CLIP. Not run by
CI; the outputs are committed. Run after scripts/make-reference-fixtures.py
(it reads the photos and the transformers-layout model that script made).

    /tmp/venv/bin/pip install torch==2.15.0 transformers==5.24.0 cn_clip \
        scikit-image==0.26.0 pillow==13.0.0 safetensors==0.8.0 numpy
    /tmp/venv/bin/python scripts/make-chinese-clip-fixtures.py

1. `reference/hf-vit-quickgelu-p8.json`: its image embeddings are recomputed
   from transformers' own `CLIPImageProcessor` (Pillow backend) instead of
   open_clip's transform, which crops one pixel elsewhere when the margin is
   odd and keeps transparency where transformers composites it on white.
2. `models/cn-clip-vit-p8` (model.safetensors, F16) and
   `models/cn-clip-vit-p8-bin` (the same weights as pytorch_model.bin only,
   as old hub repositories ship them): a random, input-sensitive
   `ChineseCLIPModel` with the real 21 128-token RoBERTa-wwm vocab.txt from
   the cn_clip wheel, and `reference/cn-clip-vit-p8.json`: what
   transformers computes for photos (through `ChineseCLIPImageProcessor`,
   Pillow backend) and texts (token ids from transformers' `BertTokenizer`).
(The hostile checkpoints under `models/hostile/` are made by
scripts/make-hostile-fixtures.py, which needs only Python's standard library.)
"""
import json
import math
import os
import shutil
from pathlib import Path

import cn_clip
import numpy as np
import torch
import transformers
from PIL import Image, ImageOps
from transformers import BertTokenizer, ChineseCLIPConfig, ChineseCLIPModel, CLIPModel
from transformers.models.chinese_clip.image_processing_pil_chinese_clip import ChineseCLIPImageProcessorPil
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PHOTOS = FIXTURES / "photos"
VOCAB = Path(cn_clip.__file__).parent / "clip" / "vocab.txt"
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
torch.manual_seed(1)

LARGE_PHOTOS = [
    "chelsea.png", "rocket.jpg", "camera.png", "coffee-portrait.jpg",
    "astronaut-progressive.jpg", "chelsea-alpha.png", "chelsea-orientation-6.jpg",
]

TEXTS = [
    "",
    "海边的日落",
    "生日蛋糕和蜡烛",
    "一只在沙发上睡觉的猫",
    "a dog running on the beach at sunset",
    "Hello, WORLD! It's 3:45pm",
    "红色的 Tesla Model 3 停在路边",
    "ＡＢＣ１２３，全角字符！",
    "🐶🏖️🌅 小狗在海边",
    "Crème brûlée café naïve ΣΊΣΥΦΟΣ İstanbul",
    "  多个\t空格\n和\u3000全角空格\u00a0  ",
    "控制\u0000字符\u200b和\ufffd替换",
    "unaffable supercalifragilisticexpialidocious " + "x" * 101,
    "《红楼梦》、「引号」和——破折号……",
    "长" * 80,
]


def sensitive_init_(name, tensor):
    """In place: weight matrices normal with std 2/sqrt(fan_in), LayerNorm
    weights 1±0.1, biases and embeddings ±0.1 (uniform)."""
    with torch.no_grad():
        lowered = name.lower()
        is_norm = any(key in lowered for key in ("layernorm", "layer_norm", "layrnorm"))
        if is_norm and name.endswith("weight"):
            tensor.uniform_(0.9, 1.1)
        elif name.endswith("bias") or tensor.dim() == 1 or "embedding" in lowered:
            tensor.uniform_(-0.1, 0.1)
        else:
            tensor.normal_(0, 2 / math.sqrt(int(np.prod(tensor.shape[1:]))))


def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def open_photo(name):
    image = Image.open(PHOTOS / name)
    if "orientation" in name:
        image = ImageOps.exif_transpose(image)
    return image


def processor_embeddings(model, processor, names):
    with torch.no_grad():
        pixels = processor(images=[open_photo(name) for name in names], return_tensors="pt")["pixel_values"]
        return model.get_image_features(pixel_values=pixels).pooler_output


def redo_transformers_reference():
    """The transformers-layout model's photos through CLIPImageProcessor."""
    name = "hf-vit-quickgelu-p8"
    folder = FIXTURES / "models" / name
    path = FIXTURES / "reference" / f"{name}.json"
    document = json.loads(path.read_text())
    model = CLIPModel.from_pretrained(folder, dtype=torch.float32).eval()
    processor = CLIPImageProcessorPil.from_pretrained(folder)
    names = [Path(image["file"]).name for image in document["images"]]
    embeddings = processor_embeddings(model, processor, names)
    moved = {}
    for image, embedding in zip(document["images"], embeddings):
        old = image["embedding"]
        image["embedding"] = embedding.tolist()
        moved[Path(image["file"]).name] = cosine(old, image["embedding"])
    # Square photos need no resize or crop: the processors agree on them.
    for square in ("astronaut-48.png", "coffee-48.png", "chelsea-48.png"):
        assert moved[square] > 0.999999, (square, moved[square])
    document["preprocessing"] = "transformers CLIPImageProcessor, Pillow backend"
    document["versions"]["transformers"] = transformers.__version__
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(name, "cosine of each photo, open_clip's transform against CLIPImageProcessor:",
          {key: round(value, 4) for key, value in moved.items()})


def make_chinese_clip():
    name = "cn-clip-vit-p8"
    folder = FIXTURES / "models" / name
    twin = FIXTURES / "models" / f"{name}-bin"
    for path in (folder, twin):
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    config = ChineseCLIPConfig(
        projection_dim=24,
        text_config=dict(vocab_size=21128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=64, type_vocab_size=2,
                         hidden_act="gelu", layer_norm_eps=1e-12),
        vision_config=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                           image_size=48, patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5),
    )
    model = ChineseCLIPModel(config)
    for parameter_name, parameter in model.named_parameters():
        sensitive_init_(parameter_name, parameter)
    model = model.half()
    model.save_pretrained(folder, safe_serialization=True)
    preprocessor = {
        "crop_size": {"height": 48, "width": 48}, "do_center_crop": False, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": OPENAI_MEAN,
        "image_std": OPENAI_STD, "resample": 3, "rescale_factor": 1 / 255, "size": {"height": 48, "width": 48},
        "image_processor_type": "ChineseCLIPImageProcessor",
    }
    tokenizer_config = {"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None,
                        "model_max_length": 64, "tokenizer_class": "BertTokenizer"}
    for path in (folder, twin):
        (path / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n")
        (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
        shutil.copy(VOCAB, path / "vocab.txt")
    shutil.copy(folder / "config.json", twin / "config.json")
    # As old hub repositories ship it: torch.save of the state dict, with the
    # int64 position_ids buffer that older transformers saved.
    state = model.state_dict()
    state["text_model.embeddings.position_ids"] = torch.arange(64).unsqueeze(0)
    torch.save(state, twin / "pytorch_model.bin")

    loaded = ChineseCLIPModel.from_pretrained(folder, dtype=torch.float32).eval()
    from_bin = ChineseCLIPModel.from_pretrained(twin, dtype=torch.float32).eval()
    tokenizer = BertTokenizer.from_pretrained(folder)
    processor = ChineseCLIPImageProcessorPil.from_pretrained(folder)
    squares = ["astronaut-48.png", "coffee-48.png", "chelsea-48.png"]
    names = squares + LARGE_PHOTOS
    images = processor_embeddings(loaded, processor, names)
    assert torch.allclose(images, processor_embeddings(from_bin, processor, names))
    texts = []
    with torch.no_grad():
        for text in TEXTS:
            encoded = tokenizer(text, truncation=True, max_length=64, return_tensors="pt")
            embedding = loaded.get_text_features(**encoded).pooler_output[0]
            assert torch.allclose(embedding, from_bin.get_text_features(**encoded).pooler_output[0])
            texts.append({"text": text, "ids": encoded["input_ids"][0].tolist(), "embedding": embedding.tolist()})
    pairs = [cosine(images[i], images[j]) for i in range(len(names)) for j in range(i + 1, len(names))
             if names[i].split("-")[0].split(".")[0] != names[j].split("-")[0].split(".")[0]]
    text_pairs = [cosine(texts[i]["embedding"], texts[j]["embedding"]) for i in range(1, 4) for j in range(i + 1, 4)]
    assert max(pairs) < 0.9 and max(text_pairs) < 0.9, (max(pairs), max(text_pairs))
    document = {
        "model": name, "layout": "transformers", "directory": f"models/{name}",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "preprocessing": "transformers ChineseCLIPImageProcessor, Pillow backend",
        "images": [{"file": f"photos/{photo}", "embedding": images[i].tolist()} for i, photo in enumerate(names)],
        "texts": texts,
        "sensitivity": {"max_cosine_between_photos": max(pairs), "max_cosine_between_chinese_texts": max(text_pairs)},
    }
    (FIXTURES / "reference" / f"{name}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(name, document["sensitivity"])


def main():
    redo_transformers_reference()
    make_chinese_clip()


if __name__ == "__main__":
    main()
