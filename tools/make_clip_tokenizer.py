"""Build the CLIP BPE tokenizer files in resources/tokenizers/clip/ without the Hugging Face hub.

Stable Diffusion 1.x and 2.x both prompt their text encoder through the CLIP tokenizer of
`openai/clip-vit-large-patch14`. Its vocabulary is fully determined by OpenAI's BPE merges
file, which the `open-clip-torch` wheel (MIT) ships as `open_clip/bpe_simple_vocab_16e6.txt.gz`:

    256 byte-level characters (in `bytes_to_unicode()` order)
  + the same 256 with the end-of-word mark "</w>"
  + one token per merge (its two halves joined) for the first 49152 - 256 - 2 merges
  + "<|startoftext|>", "<|endoftext|>"                                   = 49408 tokens

Usage:
    python tools/make_clip_tokenizer.py [WHEEL_OR_BPE_GZ] [--out resources/tokenizers/clip]

Without a path the script runs `pip download --no-deps open-clip-torch==3.3.0` into a
temporary folder. The output is deterministic: rerunning it must leave `git diff` empty.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from transformers.convert_slow_tokenizer import bytes_to_unicode

OPEN_CLIP_REQUIREMENT = "open-clip-torch==3.3.0"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
N_MERGES = VOCAB_SIZE - 2 * 256 - 2  # 48894 (= 49152 - 256 - 2 as open_clip writes it)
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MODEL_MAX_LENGTH = 77
REPO_ROOT = Path(__file__).resolve().parents[1]


def read_bpe_text(source: Path | None) -> str:
    """Return the decompressed merges file from a wheel, a .txt.gz, or a fresh `pip download`."""
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, OPEN_CLIP_REQUIREMENT],
                check=True,
            )
            (wheel,) = Path(tmp).glob("open_clip_torch-*.whl")
            return read_bpe_text(wheel)
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            return gzip.decompress(wheel.read(BPE_MEMBER)).decode("utf-8")
    return gzip.decompress(source.read_bytes()).decode("utf-8")


def build_vocab_and_merges(bpe_text: str) -> tuple[dict[str, int], list[str]]:
    """CLIP's token -> id table and its ordered merge rules ("a b" strings)."""
    lines = bpe_text.split("\n")
    merges = lines[1 : 1 + N_MERGES]  # line 0 is the file's header
    if len(merges) != N_MERGES or any(len(m.split(" ")) != 2 for m in merges):
        raise ValueError("unexpected BPE merges file: expected 48894 'left right' lines after the header")

    byte_chars = list(bytes_to_unicode().values())
    tokens = byte_chars + [c + "</w>" for c in byte_chars]
    tokens += ["".join(m.split(" ")) for m in merges]
    tokens += [BOS, EOS]
    vocab = {token: i for i, token in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise ValueError(f"expected {VOCAB_SIZE} distinct tokens, got {len(vocab)}")
    return vocab, merges


def special_tokens_map(pad_token: str) -> dict[str, str]:
    return {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": pad_token}


def tokenizer_config(pad_token: str) -> dict:
    return {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MODEL_MAX_LENGTH,
        "do_lower_case": True,
        "add_prefix_space": False,
        "errors": "replace",
        **special_tokens_map(pad_token),
    }


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tokenizer(out: Path, vocab: dict[str, int], merges: list[str], pad_token: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    write_json(out / "tokenizer_config.json", tokenizer_config(pad_token))
    write_json(out / "special_tokens_map.json", special_tokens_map(pad_token))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", type=Path, help="open_clip_torch wheel or bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "resources" / "tokenizers" / "clip")
    args = parser.parse_args(argv)

    vocab, merges = build_vocab_and_merges(read_bpe_text(args.source))
    write_tokenizer(args.out, vocab, merges, pad_token=EOS)
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {args.out}")


if __name__ == "__main__":
    main()
