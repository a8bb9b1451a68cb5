#!/usr/bin/env python3
"""Makes the MobileCLIP 2 fixtures (issue 20) with open_clip and timm
themselves: fixtures/models/oc-mobileclip2-t (a test-size MobileCLIP2 in
open_clip's hub layout) and fixtures/reference/oc-mobileclip2-t.json (its
embeddings of photos and texts, and the pixels open_clip fed it).

    /tmp/venv/bin/pip install torch==2.15.0 open_clip_torch==3.3.0 timm==1.0.31 pillow numpy
    /tmp/venv/bin/python scripts/make-mobileclip-fixtures.py

MobileCLIP2-S0's open_clip config names timm's "fastvit_mci0" and nothing of
its shape; timm's model function fixes it. This script registers a tower of
the same kind at a test size, "test_fastvit_mci" (fastvit_mci0's arguments:
RepMixer stages, squeeze-excite downsamples in the last two, a RepCPE and
attention in the last stage, GELU after the large-kernel downsamples; one
block a stage and widths 8-64), which photosearch knows by that name.

`--hf-tokenizer` writes the reference for oc-mobileclip2-t configured with
hf_tokenizer_name (fixtures/reference/oc-mobileclip2-t-hf*). `--keys` lists the tensors of open_clip's full-size MobileCLIP2-S0, -S3, -B
and -L-14 (fixtures/reference/*-keys.txt). `--s3` makes oc-mobileclip2-s3-t:
fastvit_mci3's kind at a test size ("test_fastvit_mci3": five stages,
LayerNorm2d before attention in the last two, no stem scale branch) at
128 px, with 128 px squares of the photos. `--vit` makes the two ViT members the same way, oc-mobileclip2-b-t and
oc-mobileclip2-l-t: MobileCLIP2-B's "vit_base_mci_224" (timm's
VisionTransformer over a convolutional stem of three patchify convolutions,
4x4/4 and 2x2/2 with BatchNorm and GELU, then 2x2/2 with a bias; position
embeddings on the patches only, no_embed_class) registered at a test size as
"test_vit_mci", with MobileCLIP2-B's causal text tower; and MobileCLIP2-L-14's
"vit_large_patch14_clip_224" (CLIP's ViT in timm: a class token, norm_pre,
LayerNorm eps 1e-5, exact GELU, a head with a bias) as "test_vit_clip", with
its bidirectional text tower and OpenAI mean/std, bicubic.

The weights are random and input-sensitive, and so are the BatchNorm running
statistics and layer scales: checkpoints store the training (unfused) form,
and a wrong fusion at load must not pass.
"""
import importlib.util
import json
import math
import os
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("siglip_fixtures", ROOT / "scripts" / "make-siglip-fixtures.py")
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)

NAME = "oc-mobileclip2-t"
IMAGE_SIZE = 64
TEST_FASTVIT_MCI = dict(layers=(1, 1, 1, 1), embed_dims=(8, 16, 32, 64), mlp_ratios=(3, 3, 3, 3),
                        se_downsamples=(False, False, True, True), token_mixers=("repmixer", "repmixer", "repmixer", "attention"),
                        lkc_use_act=True)
SQUARES = ["astronaut-64.png", "coffee-64.png", "chelsea-64.png"]
GAIN = float(os.environ.get("GAIN", "1.4"))


TEST_FASTVIT_MCI3 = dict(layers=(1, 1, 1, 1, 1), embed_dims=(8, 16, 32, 64, 128), mlp_ratios=(4, 4, 4, 4, 4),
                         se_downsamples=(False,) * 5, downsamples=(False, True, True, True, True),
                         token_mixers=("repmixer", "repmixer", "repmixer", "attention", "attention"),
                         lkc_use_act=True, stem_use_scale_branch=False)


def register_test_fastvit_mci():
    import timm
    from timm.layers import LayerNorm2d
    from timm.models import register_model
    from timm.models.fastvit import FastVit, RepConditionalPosEnc
    if "test_fastvit_mci" in timm.list_models("test_fastvit_mci"):
        return

    @register_model
    def test_fastvit_mci3(pretrained=False, **kwargs):
        """fastvit_mci3's arguments at a test size: five stages, attention
        (after LayerNorm2d) and a RepCPE in the last two, no squeeze-excite
        in the downsamplings, no stem scale branch."""
        assert not pretrained
        kwargs = {k: v for k, v in kwargs.items() if k not in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")}
        cpe = partial(RepConditionalPosEnc, spatial_shape=(7, 7))
        return FastVit(**dict(TEST_FASTVIT_MCI3, pos_embs=(None, None, None, cpe, cpe),
                              norm_layer=partial(LayerNorm2d, eps=1e-5), **kwargs))

    @register_model
    def test_fastvit_mci(pretrained=False, **kwargs):
        assert not pretrained
        kwargs = {k: v for k, v in kwargs.items() if k not in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")}
        pos_embs = (None, None, None, partial(RepConditionalPosEnc, spatial_shape=(7, 7)))
        return FastVit(**dict(TEST_FASTVIT_MCI, pos_embs=pos_embs, **kwargs))


TEST_VIT_MCI = dict(channels=(16, 16, 64), stride=(4, 2, 2), kernel_size=(4, 2, 2), padding=0)
TEST_VIT_CLIP = dict(patch_size=8, embed_dim=64, depth=2, num_heads=2, pre_norm=True)


def register_test_vits():
    import timm
    from timm.layers import LayerNorm
    from timm.models import register_model
    from timm.models.vision_transformer import _create_vision_transformer
    from timm.models.vision_transformer_hybrid import ConvStem, _create_vision_transformer_hybrid
    if "test_vit_mci" in timm.list_models("test_vit_mci"):
        return

    def clean(kwargs):
        return {k: v for k, v in kwargs.items() if k not in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")}

    @register_model
    def test_vit_mci(pretrained=False, **kwargs):
        assert not pretrained
        backbone = ConvStem(act_layer=torch.nn.GELU, **TEST_VIT_MCI)
        return _create_vision_transformer_hybrid(
            "vit_base_mci_224", backbone=backbone, embed_args=dict(proj=False), pretrained=False,
            **dict(dict(embed_dim=64, depth=2, num_heads=2, no_embed_class=True, img_size=64), **clean(kwargs)))

    @register_model
    def test_vit_clip(pretrained=False, **kwargs):
        assert not pretrained
        return _create_vision_transformer(
            "vit_large_patch14_clip_224", pretrained=False,
            **dict(dict(TEST_VIT_CLIP, norm_layer=partial(LayerNorm, eps=1e-5), img_size=48), **clean(kwargs)))


def randomise_vit_(model):
    """The ViT members: BatchNorm weights 0.5-1.5, running means ±0.2,
    variances 0.5-2 (a wrong fusion cannot pass); everything else as the
    CLIP fixtures (sensitive_init_: matrices 2/sqrt(fan_in), LayerNorm
    1±0.1, biases, class token and positions ±0.1)."""
    torch.manual_seed(int(os.environ.get("SEED", "3")))
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith("num_batches_tracked") or name == "logit_scale" or name.endswith("attn_mask"):
                continue
            if ".bn." in name and name.endswith("running_mean"):
                tensor.uniform_(-0.2, 0.2)
            elif ".bn." in name and name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif ".bn." in name and name.endswith("weight"):
                tensor.uniform_(0.5, 1.5)
            elif name.endswith("cls_token") or name.endswith("pos_embed"):
                tensor.uniform_(-0.1, 0.1)
            else:
                base.sensitive_init_(name, tensor)


def randomise_(model, gain=GAIN):
    """Every parameter and BatchNorm statistic random: convolutions and
    matrices normal with std 2/sqrt(fan_in) (sensitive_init_), BatchNorm
    weights 0.5-1.5, biases ±0.1, running means ±0.2, variances 0.5-2, layer
    scales 0.3-1 (so that every branch counts)."""
    torch.manual_seed(int(os.environ.get("SEED", "2")))
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith("num_batches_tracked") or name == "logit_scale" or name.endswith("attn_mask"):
                continue
            if name.endswith("gamma"):
                tensor.uniform_(0.3, 1.0)
            elif name.startswith("visual.") and name.endswith("running_mean"):
                tensor.uniform_(-0.2, 0.2)
            elif name.startswith("visual.") and name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif name.startswith("visual.") and tensor.dim() == 1 and name.endswith("weight"):
                tensor.uniform_(0.5, 1.5)
            elif name.startswith("visual.") and tensor.dim() > 1:
                # Gain 1.4, not sensitive_init_'s 2: at 2 a deep random
                # convolutional tower is chaotic (float32 rounding alone
                # moves its embedding by 1e-4), which no trained one is.
                tensor.normal_(0, gain / math.sqrt(int(np.prod(tensor.shape[1:]))))
            else:
                base.sensitive_init_(name, tensor)


VARIANTS = {
    # name: (timm tower, image size, timm_pool, text no_causal_mask, mean/std, interpolation)
    NAME: ("test_fastvit_mci", IMAGE_SIZE, "avg", True, "zero", "bilinear"),
    "oc-mobileclip2-b-t": ("test_vit_mci", 64, "token", False, "zero", "bilinear"),
    "oc-mobileclip2-l-t": ("test_vit_clip", 48, "token", True, "openai", "bicubic"),
    "oc-mobileclip2-s3-t": ("test_fastvit_mci3", 128, "avg", True, "openai", "bilinear"),
}


def write_squares(size):
    """fixtures/photos/{astronaut,coffee,chelsea}-<size>.png as
    make-reference-fixtures.py makes the 64 and 48 px ones: the centre square,
    Lanczos-resized, so that preprocessing at that size is the identity."""
    import skimage
    from PIL import Image
    data_dir = Path(skimage.__file__).parent / "data"
    for name in ("astronaut", "coffee", "chelsea"):
        target = base.PHOTOS / f"{name}-{size}.png"
        if target.exists():
            continue
        image = Image.open(data_dir / f"{name}.png").convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS).save(target)


def make(name):
    import open_clip
    import timm
    from safetensors.torch import save_file
    register_test_fastvit_mci()
    register_test_vits()
    tower, size, pool, bidirectional, statistics, interpolation = VARIANTS[name]
    folder = base.fresh(base.MODELS / name)
    model_cfg = {
        "embed_dim": 32,
        "vision_cfg": {"timm_model_name": tower, "timm_model_pretrained": False, "timm_pool": pool,
                       "timm_proj": None, "timm_drop": 0.0, "timm_drop_path": 0.0, "image_size": size},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2, "no_causal_mask": bidirectional},
        "custom_text": True,
    }
    mean, std = ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]) if statistics == "zero" else (list(open_clip.OPENAI_DATASET_MEAN), list(open_clip.OPENAI_DATASET_STD))
    config = {"model_cfg": model_cfg,
              "preprocess_cfg": {"mean": mean, "std": std, "interpolation": interpolation, "resize_mode": "shortest"}}
    base.write_json(folder / "open_clip_config.json", config)
    model = open_clip.create_model("local-dir:" + str(folder))
    if tower == "test_fastvit_mci3":
        # Five stages at 1.4 are chaotic enough that PyTorch's own float32
        # and float64 embeddings differ by 3e-4; at 1.0 by 1e-6, with
        # photos still at cosine 0.86 at most.
        randomise_(model, gain=float(os.environ.get("GAIN", "1.0")))
    elif tower.startswith("test_fastvit_mci"):
        randomise_(model)
    else:
        randomise_vit_(model)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    os.chmod(folder / "open_clip_model.safetensors", 0o644)

    # As a user of the hub folder gets it.
    model, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + str(folder))
    model.eval()
    assert type(model.visual).__name__ == "TimmModel" and (model.text.attn_mask is None) == bidirectional
    tokenizer = open_clip.get_tokenizer("local-dir:" + str(folder))
    if size == 128:
        write_squares(128)
    squares = {64: SQUARES, 128: [f"{n}-128.png" for n in ("astronaut", "coffee", "chelsea")]}.get(size, base.SQUARES)
    names = squares + base.LARGE_PHOTOS
    texts_in = base.CHINESE_CLIP_TEXTS
    with torch.no_grad():
        pixels = torch.stack([preprocess(base.open_photo(photo)) for photo in names])
        images = model.encode_image(pixels)
        ids = tokenizer(texts_in)
        texts = model.encode_text(ids)
        if tower.startswith("test_fastvit_mci"):
            # The fused (inference) form timm makes gives the same embeddings.
            fused = timm.utils.model.reparameterize_model(model.visual.trunk)
            fused_images = fused(pixels)
            worst = ((fused_images - images).abs().max() / images.abs().max()).item()
            assert worst < 1e-5, worst
    pairs = base.photo_pairs(names, images)
    assert max(pairs) < 0.9, max(pairs)
    text_pairs = [base.cosine(texts[i], texts[j]) for i in range(1, 6) for j in range(i + 1, 6)]
    assert max(text_pairs) < 0.9, max(text_pairs)
    filters = {"bilinear": "BILINEAR", "bicubic": "BICUBIC"}[interpolation]
    normalise = "Normalize(0, 1)" if statistics == "zero" else "Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)"
    document = {
        "model": name, "layout": "open_clip", "directory": str(folder.relative_to(base.FIXTURES)),
        "versions": dict(torch=torch.__version__, open_clip=open_clip.__version__, timm=timm.__version__,
                         python=sys.version.split()[0]),
        "dtype": "F32",
        "preprocessing": f"open_clip create_model_and_transforms('local-dir:' + folder): Resize({size}) (shortest "
                         f"side, Pillow {filters}), CenterCrop({size}), convert('RGB'), ToTensor, {normalise}",
        "tokenization": "open_clip get_tokenizer: SimpleTokenizer (CLIP BPE), zero-padded to 77; "
                        + ("the text tower attends to every position (no causal mask, no padding mask) and pools at argmax(ids)"
                           if bidirectional else "a causal text tower pooled at argmax(ids)"),
        "logit_scale": model.logit_scale.item(),
        "images": [{"file": f"photos/{photo}", "embedding": images[i].tolist()} for i, photo in enumerate(names)],
        "pixels": {"file": f"photos/{squares[0]}", "values": pixels[0].flatten().tolist()},
        # A causal tower's embedding does not depend on the padding: the ids
        # up to the end-of-text token, as the CLIP fixtures keep them.
        "texts": [{"text": text, "ids": ids[i].tolist() if bidirectional else ids[i][:int(ids[i].argmax()) + 1].tolist(),
                   "embedding": texts[i].tolist()} for i, text in enumerate(texts_in)],
        "sensitivity": {"max_cosine_between_photos": max(pairs), "max_cosine_between_texts": max(text_pairs)},
    }
    base.write_json(base.REFERENCE / f"{name}.json", document, indent=1)
    print(name, document["sensitivity"], os.path.getsize(folder / "open_clip_model.safetensors"))


def write_keys(model_name):
    """fixtures/reference/<name>-keys.txt: the tensors open_clip's own
    configuration of a full-size model holds (random, never saved)."""
    import open_clip
    model = open_clip.create_model(model_name, pretrained=None)
    lines = [f"# open_clip.create_model('{model_name}', pretrained=None) state_dict (open_clip {open_clip.__version__})"]
    lines += [f"{k}\t{tuple(v.shape)}\t{v.dtype}" for k, v in model.state_dict().items()]
    (base.REFERENCE / f"{model_name.lower()}-keys.txt").write_text("\n".join(lines) + "\n")


def make_hf_tokenizer_reference():
    """fixtures/reference/oc-mobileclip2-t-hf/: oc-mobileclip2-t's
    configuration naming hf_tokenizer_name (as the timm/MobileCLIP2-*-OpenCLIP
    uploads may: open_clip's push_to_hf_hub --hf-tokenizer-self) and the
    tokenizer_config.json of the Hugging Face CLIP tokenizer open_clip
    uploads beside it; and oc-mobileclip2-t-hf.json, the ids and embeddings
    open_clip's HFTokenizer path gives. The tokenizer is built offline from
    open_clip's own BPE tables, as openai/clip-vit-large-patch14's is."""
    import shutil
    import tempfile
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizerFast
    register_test_fastvit_mci()
    scratch = Path(tempfile.mkdtemp())
    hf = scratch / "hf"
    hf.mkdir()
    simple = SimpleTokenizer()
    # The same table; Hugging Face's CLIP names the two special tokens as OpenAI did.
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocabulary = {renamed.get(token, token): index for token, index in simple.encoder.items()}
    assert vocabulary["<|startoftext|>"] == 49406 and vocabulary["<|endoftext|>"] == 49407
    (hf / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
    merges = sorted(simple.bpe_ranks.items(), key=lambda item: item[1])
    (hf / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in merges) + "\n")
    # transformers' CLIPConverter, with the tokenizers library (transformers
    # 5 converts no slow tokenizer without sentencepiece).
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    bpe = Tokenizer(models.BPE(vocab=vocabulary, merges=[pair for pair, _ in merges], unk_token="<|endoftext|>",
                               end_of_word_suffix="</w>", continuing_subword_prefix="", fuse_unk=False))
    bpe.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.RobertaProcessing(("<|endoftext|>", 49407), ("<|startoftext|>", 49406),
                                                      add_prefix_space=False, trim_offsets=False)
    CLIPTokenizerFast(tokenizer_object=bpe, bos_token="<|startoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                      pad_token="<|endoftext|>").save_pretrained(str(hf))
    model_folder = scratch / "model"
    model_folder.mkdir()
    source = base.MODELS / NAME
    shutil.copy(source / "open_clip_model.safetensors", model_folder / "open_clip_model.safetensors")
    config = json.loads((source / "open_clip_config.json").read_text())
    # A local folder's tokenizer is always its own files (open_clip's
    # get_tokenizer with local-dir:), whatever hf_tokenizer_name names.
    config["model_cfg"]["text_cfg"]["hf_tokenizer_name"] = "timm/MobileCLIP2-S0-OpenCLIP"
    (model_folder / "open_clip_config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(hf / name, model_folder / name)
    model, _, _ = open_clip.create_model_and_transforms("local-dir:" + str(model_folder))
    model.eval()
    tokenizer = open_clip.get_tokenizer("local-dir:" + str(model_folder))
    assert type(tokenizer).__name__ == "HFTokenizer", type(tokenizer)
    texts_in = base.TEXTS
    ids = tokenizer(texts_in)
    own = simple(texts_in)
    # Padded with the tokenizer's pad_token; the pieces are open_clip's own
    # but where lowercasing differs (the tokenizers library has no final
    # sigma: "ΣΊΣΥΦΟΣ" ends in σ, not ς).
    pad = tokenizer.tokenizer.pad_token_id
    differing = []
    for text, mine, theirs in zip(texts_in, ids.tolist(), own.tolist()):
        end = theirs.index(49407) + 1
        assert all(i == pad for i in mine[mine.index(49407) + 1:]), mine
        if mine[:end] != theirs[:end]:
            differing.append(text)
    with torch.no_grad():
        texts = model.encode_text(ids)
        zero_padded = model.encode_text(own)
    out = base.fresh(base.REFERENCE / "oc-mobileclip2-t-hf")
    base.write_json(out / "open_clip_config.json", config)
    shutil.copy(hf / "tokenizer_config.json", out / "tokenizer_config.json")
    document = {
        "model": NAME + " with hf_tokenizer_name", "layout": "open_clip", "directory": f"models/{NAME}",
        "versions": dict(torch=torch.__version__, open_clip=open_clip.__version__, python=sys.version.split()[0]),
        "tokenization": "open_clip get_tokenizer with text_cfg.hf_tokenizer_name: HFTokenizer (clean 'whitespace'), "
                        f"padding='max_length' to 77 with the tokenizer's pad_token (id {pad})",
        "pad_id": pad,
        "texts": [{"text": text, "ids": ids[i].tolist(), "embedding": texts[i].tolist()} for i, text in enumerate(texts_in)],
        "min_cosine_against_zero_padding": min(base.cosine(texts[i], zero_padded[i]) for i in range(len(texts_in))),
        "texts_whose_pieces_differ_from_open_clip_own_tokenizer": differing,
    }
    base.write_json(base.REFERENCE / "oc-mobileclip2-t-hf.json", document, indent=1)
    shutil.rmtree(scratch)
    print("hf tokenizer: pad", pad, "min cosine against zero padding", document["min_cosine_against_zero_padding"])


def main():
    if "--hf-tokenizer" in sys.argv:
        make_hf_tokenizer_reference()
        return
    if "--keys" in sys.argv:
        for model_name in ("MobileCLIP2-S0", "MobileCLIP2-S3", "MobileCLIP2-B", "MobileCLIP2-L-14"):
            write_keys(model_name)
        return
    if "--s3" in sys.argv:
        make("oc-mobileclip2-s3-t")
        return
    for name in (["oc-mobileclip2-b-t", "oc-mobileclip2-l-t"] if "--vit" in sys.argv else [NAME]):
        make(name)


if __name__ == "__main__":
    main()
