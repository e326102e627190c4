"""Word-level tokenizer for the demo model.

Every word of the captions' closed vocabulary is one token. The tokenizer lower-cases, turns
anything that is not a letter into a space, maps a few synonyms onto the trained word
("grey" -> "gray", "center"/"middle" -> "centre", "big" -> "large", "tiny" -> "small") and
splits on whitespace; other words become ``[UNK]``. Like CLIP's, it wraps each prompt in
begin/end tokens and pads to ``model_max_length``.

It is a plain ``tokenizers`` WordLevel model inside ``transformers.PreTrainedTokenizerFast``,
so ``save_pretrained``/``from_pretrained`` need no custom code.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .data import COLOURS, POSITION_PHRASES, SHAPES, SIZES

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)

# Room for the longest caption (12 words + 2 specials) and a few extra words.
MODEL_MAX_LENGTH = 20

FUNCTION_WORDS = ("a", "an", "the", "in", "on", "at", "of", "and", "with", "background", "corner", "shape")
SYNONYMS = {"grey": "gray", "center": "centre", "middle": "centre", "big": "large", "tiny": "small"}


def vocabulary() -> list[str]:
    """All tokens, specials first; ids are list positions."""
    words: list[str] = []
    for word in [*FUNCTION_WORDS, *SIZES, *COLOURS, *SHAPES, *" ".join(POSITION_PHRASES.values()).split()]:
        if word not in words:
            words.append(word)
    return [*SPECIAL_TOKENS, *words]


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(), normalizers.Replace(Regex(r"[^a-z]+"), " ")]
        + [normalizers.Replace(Regex(rf"\b{old}\b"), new) for old, new in SYNONYMS.items()]
    )
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {EOS} $B {EOS}",
        special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=MODEL_MAX_LENGTH,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        padding_side="right",
        truncation_side="right",
    )
