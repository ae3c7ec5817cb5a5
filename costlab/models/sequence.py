"""Sequence models: a Transformer encoder, ViT-B/16, GPT-2 small, a Llama-2-70B-shaped
decoder, and the sequential recommenders GRU4Rec and SASRec.

Attention is one ``F.scaled_dot_product_attention`` call between explicit q/k/v/output
projections, so costlab counts it as one attention op (QK^T and AV, causal masks dense).

The decoders (GPT-2, the Llama-shaped decoder, SASRec) take an optional ``KVCache``
(``forward(ids, past_key_values=cache)``): each attention layer appends its new keys and
values to the cache and attends over all of them, as generation does. ``new_cache`` makes
one already holding some tokens, for costing a decode step at that context.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from costlab.core.errors import UsageError
from costlab.models.registry import Knob, register_model

# ------------------------------------------------------------------ shared pieces


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_divides(name: str, value: int, what: str, total: int) -> None:
    """Heads must split a width evenly; the error lists the values that do."""
    if total % value:
        allowed = ", ".join(str(d) for d in divisors(total))
        raise UsageError(f"{name}={value} must divide {what}={total}; allowed: {allowed}")


class KVCache:
    """Keys and values of every attention layer, each (batch, kv_heads, tokens, head_dim).

    ``update`` appends a step's keys and values (one ``cat`` each, as transformers'
    DynamicCache does) and returns everything cached for that layer."""

    def __init__(self, layers: int):
        self.keys: list[torch.Tensor | None] = [None] * layers
        self.values: list[torch.Tensor | None] = [None] * layers

    def length(self, layer: int = 0) -> int:
        keys = self.keys[layer]
        return 0 if keys is None else int(keys.shape[-2])

    def update(self, layer: int, keys: torch.Tensor,
               values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer] is not None:
            keys = torch.cat((self.keys[layer], keys), dim=-2)
            values = torch.cat((self.values[layer], values), dim=-2)
        self.keys[layer], self.values[layer] = keys, values
        return keys, values

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in (*self.keys, *self.values) if t is not None]


class Decoder(nn.Module):
    """A causal decoder whose attention layers can read and extend a ``KVCache``."""

    max_positions: int  # the longest sequence its position tables hold

    def attention_layers(self) -> list["SelfAttention"]:
        return [m for m in self.modules() if isinstance(m, SelfAttention)]

    def new_cache(self, batch: int = 1, tokens: int = 0, *, dtype: torch.dtype | None = None,
                  device: str | torch.device = "meta") -> KVCache:
        """A cache already holding ``tokens`` positions (empty tensors: only shapes count)."""
        layers = self.attention_layers()
        for index, layer in enumerate(layers):
            layer.layer_index = index
        cache = KVCache(len(layers))
        if tokens:
            dtype = dtype or next(self.parameters()).dtype
            for index, layer in enumerate(layers):
                shape = (batch, layer.kv_heads, tokens, layer.head_dim)
                cache.update(index, torch.empty(shape, dtype=dtype, device=device),
                             torch.empty(shape, dtype=dtype, device=device))
        return cache

    def run_blocks(self, x: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        if cache is None:
            return self.blocks(x)
        for block in self.blocks:
            x = block(x, cache)
        return x

    def check_positions(self, past: int, length: int) -> None:
        if past + length > self.max_positions:
            raise UsageError(f"{type(self).__name__} holds {self.max_positions} positions; "
                             f"{past} cached + {length} new is more")


class Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021), rotate-half layout.

    The angles are tables computed once at build time (buffers), so a forward costs only
    the rotation: per rotated element a multiply by cos, a multiply by sin and an add, and
    a negation for half of them (3.5 FLOPs).
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.outer(torch.arange(max_len).float(), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)  # (max_len, head_dim)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        # x: (batch, heads, L, head_dim) at positions offset .. offset + L - 1
        length, half = x.shape[-2], x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * self.cos[offset:offset + length] + rotated * self.sin[offset:offset + length]


class SelfAttention(nn.Module):
    """Multi-head self-attention: q/k/v projections, SDPA, output projection.

    ``kv_heads`` < ``heads`` is grouped-query attention: k and v have ``kv_heads`` heads and
    SDPA shares each among heads / kv_heads query heads (``enable_gqa``, no copies), so the
    attention op is counted per query head: batch x heads x L x L x 2 x head_dim MACs.

    With a ``KVCache`` the new keys and values are appended to the layer's cache and the
    queries attend over all S cached positions (batch x heads x L x S x 2 x head_dim MACs);
    several new tokens after cached ones take an explicit causal mask (SDPA's own is
    aligned to the top left).
    """

    def __init__(self, d_model: int, heads: int, *, kv_heads: int | None = None,
                 bias: bool = True, causal: bool = False, out_proj: bool = True,
                 rotary: Rotary | None = None):
        super().__init__()
        self.heads, self.kv_heads = heads, kv_heads or heads
        self.head_dim = d_model // heads
        self.causal = causal
        self.q = nn.Linear(d_model, heads * self.head_dim, bias=bias)
        self.k = nn.Linear(d_model, self.kv_heads * self.head_dim, bias=bias)
        self.v = nn.Linear(d_model, self.kv_heads * self.head_dim, bias=bias)
        self.out = nn.Linear(heads * self.head_dim, d_model, bias=bias) if out_proj else None
        self.rotary = rotary
        self.layer_index = 0  # its place in a decoder's KVCache (Decoder.new_cache sets it)

    def _split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        batch, length, _ = x.shape
        past = cache.length(self.layer_index) if cache is not None else 0
        q = self._split(self.q(x), self.heads)
        k = self._split(self.k(x), self.kv_heads)
        v = self._split(self.v(x), self.kv_heads)
        if self.rotary is not None:
            q, k = self.rotary(q, past), self.rotary(k, past)
        mask, causal = None, self.causal
        if cache is not None:
            k, v = cache.update(self.layer_index, k, v)
            if past and causal:
                causal = False  # one new token sees every cached one
                if length > 1:
                    mask = torch.ones(length, past + length, dtype=torch.bool,
                                      device=x.device).tril(past)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           enable_gqa=self.kv_heads != self.heads)
        y = y.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
        return self.out(y) if self.out is not None else y


class FeedForward(nn.Sequential):
    """Position-wise MLP: Linear d -> hidden, activation, Linear hidden -> d."""

    def __init__(self, d_model: int, hidden: int, activation: Callable[[], nn.Module],
                 bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden, bias=bias)
        self.act = activation()
        self.fc2 = nn.Linear(hidden, d_model, bias=bias)


class SwiGLU(nn.Module):
    """Llama's FFN (Shazeer 2020): down(silu(gate(x)) * up(x)), no biases."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=False)
        self.up = nn.Linear(d_model, hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class PreNormBlock(nn.Module):
    """x + attention(norm(x)), then x + ffn(norm(x)): the pre-norm residual block."""

    def __init__(self, d_model: int, attention: nn.Module, ffn: nn.Module,
                 norm: Callable[[int], nn.Module] = nn.LayerNorm):
        super().__init__()
        self.norm1 = norm(d_model)
        self.attention = attention
        self.norm2 = norm(d_model)
        self.ffn = ffn

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + (self.attention(h) if cache is None else self.attention(h, cache))
        return x + self.ffn(self.norm2(x))


# ---------------------------------------------------------- Transformer encoder


class TransformerEncoder(nn.Module):
    def __init__(self, d_model: int, heads: int, layers: int, ffn: int):
        super().__init__()
        self.blocks = nn.Sequential(*[
            PreNormBlock(d_model, SelfAttention(d_model, heads), FeedForward(d_model, ffn, nn.GELU))
            for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, L, d_model)
        return self.norm(self.blocks(x))


@register_model(
    knobs=(Knob("d_model", 512, int, "model width"),
           Knob("heads", 8, int, "attention heads (must divide d_model)"),
           Knob("layers", 6, int, "encoder blocks"),
           Knob("seq_len", 128, int, "tokens in the input sequence"),
           Knob("ffn", 2048, int, "hidden width of the feed-forward MLP")),
    input_shape=lambda k: (k["seq_len"], k["d_model"]), family="transformer",
    reference="Vaswani et al. 2017, Attention Is All You Need, Table 3 (base)")
def transformer_encoder(d_model: int = 512, heads: int = 8, layers: int = 6, seq_len: int = 128,
                        ffn: int = 2048) -> TransformerEncoder:
    """Transformer encoder stack with the base model's sizes (Table 3: N 6, d 512, h 8, d_ff 2048).

    The input is the already-embedded sequence (seq_len x d_model floats, positions
    included), so no vocabulary. Blocks are pre-norm with a GELU MLP and a final LayerNorm,
    the layout later encoders use (the paper's blocks are post-norm with ReLU; the MACs
    are the same). Attention: q/k/v/output Linear projections with biases around one SDPA.
    """
    check_divides("heads", heads, "d_model", d_model)
    return TransformerEncoder(d_model, heads, layers, ffn)


# --------------------------------------------------------------------- ViT-B/16


class VisionTransformer(nn.Module):
    def __init__(self, image_size: tuple[int, int], patch: int, d_model: int, heads: int,
                 layers: int, mlp: int, num_classes: int):
        super().__init__()
        tokens = (image_size[0] // patch) * (image_size[1] // patch) + 1  # + class token
        self.patch_embed = nn.Conv2d(3, d_model, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos_embedding = nn.Parameter(torch.zeros(1, tokens, d_model))
        norm = partial(nn.LayerNorm, eps=1e-6)  # torchvision's eps
        self.blocks = nn.Sequential(*[
            PreNormBlock(d_model, SelfAttention(d_model, heads),
                         FeedForward(d_model, mlp, nn.GELU), norm)
            for _ in range(layers)])
        self.norm = norm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (batch, patches, d)
        x = torch.cat((self.class_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self.norm(self.blocks(x + self.pos_embedding))
        return self.head(x[:, 0])  # classify from the class token only


@register_model(knobs=(Knob("num_classes", 1000, int, "classifier outputs"),),
                input_shape=(3, 224, 224), family="vit", takes_input=True,
                reference="Dosovitskiy et al. 2021, An Image is Worth 16x16 Words, Table 1")
def vit_b16(num_classes: int = 1000,
            input_shape: tuple[int, ...] = (1, 3, 224, 224)) -> VisionTransformer:
    """ViT-Base with 16x16 patches (Table 1: 12 layers, d 768, MLP 3072, 12 heads).

    At 224x224: 196 patch tokens + a class token. Where the paper is silent, torchvision's
    vit_b_16 layout: the patch embedding is a 16x16 stride-16 conv with bias, a learned
    class token and position embedding (tokens x 768), pre-norm blocks (LayerNorm eps 1e-6,
    exact-erf GELU), a final LayerNorm and a Linear head on the class token (86,567,656
    params; 17.56 GMACs, torchvision's "GFLOPS"). The position embedding is sized for the
    input resolution (a multiple of 16), as fine-tuning at higher resolution interpolates it.
    """
    height, width = int(input_shape[-2]), int(input_shape[-1])
    if height % 16 or width % 16:
        raise UsageError(f"vit_b16 takes resolutions that are multiples of 16 (the patch "
                         f"size), got {height}x{width}")
    return VisionTransformer((height, width), 16, 768, 12, 12, 3072, num_classes)


# ------------------------------------------------------------------ GPT-2 small

GPT2_CONTEXT = 1024


class GPT2(Decoder):
    def __init__(self, vocab: int, context: int, d_model: int, heads: int, layers: int):
        super().__init__()
        self.max_positions = context
        self.token_embedding = nn.Embedding(vocab, d_model)
        self.pos_embedding = nn.Embedding(context, d_model)
        self.blocks = nn.Sequential(*[
            PreNormBlock(d_model, SelfAttention(d_model, heads, causal=True),
                         FeedForward(d_model, 4 * d_model, partial(nn.GELU, approximate="tanh")))
            for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)

    def forward(self, ids: torch.Tensor,
                past_key_values: KVCache | None = None) -> torch.Tensor:  # (batch, L) ids
        past = past_key_values.length() if past_key_values is not None else 0
        self.check_positions(past, ids.shape[1])
        x = self.token_embedding(ids) + self.pos_embedding.weight[past:past + ids.shape[1]]
        x = self.norm(self.run_blocks(x, past_key_values))
        return F.linear(x, self.token_embedding.weight)  # LM head tied to the embedding


@register_model(
    knobs=(Knob("seq_len", GPT2_CONTEXT, int, "tokens in the input (at most the 1024 context)"),
           Knob("layers", 12, int, "decoder blocks")),
    input_shape=lambda k: (k["seq_len"],), input_dtype="int64", family="gpt",
    reference="Radford et al. 2019, Language Models are Unsupervised Multitask Learners, "
              "Table 2 (117M row)")
def gpt2_small(seq_len: int = GPT2_CONTEXT, layers: int = 12) -> GPT2:
    """GPT-2 small: 12 layers, d 768, 12 heads, vocabulary 50,257, context 1024.

    Pre-norm blocks (LayerNorm before attention and MLP, a final LayerNorm; Section 2.3),
    causal SDPA, a 4x MLP with tanh-approximated GELU, learned position embeddings, and
    the LM head tied to the token embedding: 124,439,808 params (the paper's 117M was a
    miscount, as its authors later said). Logits for every position.
    """
    if seq_len > GPT2_CONTEXT:
        raise UsageError(f"seq_len={seq_len} is not available; allowed: 1 to {GPT2_CONTEXT} "
                         f"(GPT-2's context)")
    return GPT2(50257, GPT2_CONTEXT, 768, 12, layers)


# --------------------------------------------------------------- Llama-2-70B


class LlamaDecoder(Decoder):
    def __init__(self, vocab: int, d_model: int, heads: int, kv_heads: int, layers: int,
                 ffn: int, max_len: int):
        super().__init__()
        self.max_positions = max_len  # the rotary tables' length
        self.token_embedding = nn.Embedding(vocab, d_model)
        head_dim = d_model // heads
        norm = partial(nn.RMSNorm, eps=1e-5)
        self.blocks = nn.Sequential(*[
            PreNormBlock(d_model,
                         SelfAttention(d_model, heads, kv_heads=kv_heads, bias=False,
                                       causal=True, rotary=Rotary(head_dim, max_len)),
                         SwiGLU(d_model, ffn), norm)
            for _ in range(layers)])
        self.norm = norm(d_model)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)  # untied

    def forward(self, ids: torch.Tensor,
                past_key_values: KVCache | None = None) -> torch.Tensor:
        if past_key_values is not None:
            self.check_positions(past_key_values.length(), ids.shape[1])
        x = self.run_blocks(self.token_embedding(ids), past_key_values)
        return self.lm_head(self.norm(x))


@register_model(
    knobs=(Knob("seq_len", 2048, int, "tokens in the input"),
           Knob("layers", 80, int, "decoder blocks"),
           Knob("kv_heads", 8, int, "key/value heads (grouped-query attention; must divide 64)")),
    input_shape=lambda k: (k["seq_len"],), input_dtype="int64", family="llama",
    reference="Touvron et al. 2023, Llama 2, Table 1 and Section 2.2 (70B)")
def llama_70b(seq_len: int = 2048, layers: int = 80, kv_heads: int = 8) -> LlamaDecoder:
    """A Llama-2-70B-shaped decoder: 80 layers, d 8192, 64 query heads, 8 KV heads (GQA).

    SwiGLU FFN with hidden 28672, RMSNorm (eps 1e-5) before attention and FFN and at the
    end, rotary position embeddings on q and k (element-wise; their cos/sin tables are
    buffers built once), vocabulary 32000 and an untied LM head: about 68.98e9 params.
    Causal SDPA with enable_gqa: each KV head serves 8 query heads without copies, and the
    attention op is counted per query head. Logits for every position. Table 1 gives the
    depth, GQA and the 4096 context; the widths follow the released 70B configuration, and
    the rotate-half rotary layout is the Hugging Face port's (same cost as Meta's complex form).
    """
    check_divides("kv_heads", kv_heads, "heads", 64)
    return LlamaDecoder(32000, 8192, 64, kv_heads, layers, 28672, seq_len)


# ----------------------------------------------------- sequential recommenders


class GRU4Rec(nn.Module):
    def __init__(self, items: int, embedding: int, hidden: int, layers: int):
        super().__init__()
        self.item_embedding = nn.Embedding(items, embedding)
        self.gru = nn.GRU(embedding, hidden, layers, batch_first=True)
        self.scores = nn.Linear(hidden, items)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (batch, steps) item ids
        states, _ = self.gru(self.item_embedding(ids))
        return self.scores(states)  # (batch, steps, items): next-item scores at every step


@register_model(
    knobs=(Knob("items", 37483, int, "items in the catalogue (RSC15 training set)"),
           Knob("embedding", 100, int, "item embedding width (GRU input)"),
           Knob("hidden", 100, int, "GRU hidden units"),
           Knob("layers", 1, int, "GRU layers"),
           Knob("steps", 10, int, "clicks in the session (time steps)")),
    input_shape=lambda k: (k["steps"],), input_dtype="int64", family="recsys",
    reference="Hidasi et al. 2016, Session-based Recommendations with RNNs, Tables 1 and 3")
def gru4rec(items: int = 37483, embedding: int = 100, hidden: int = 100, layers: int = 1,
            steps: int = 10) -> GRU4Rec:
    """GRU4Rec: item embedding, a GRU over the session's clicks, scores for every item.

    Defaults: RSC15's 37,483 training items (Table 1) and one GRU layer of 100 units
    (Table 3's 100-unit rows). The paper's best input is the 1-of-N item encoding; a one-hot
    times the input weights is a row lookup, so it is built as an embedding (100 wide)
    feeding the GRU, as the authors' later code allows. Scores are a Linear hidden -> items
    at every step (each click predicts the next); the output activation is left out.
    steps=10 is an analysis window (RSC15 sessions average about 4 clicks).
    """
    return GRU4Rec(items, embedding, hidden, layers)


class SASRec(Decoder):
    def __init__(self, items: int, d: int, blocks: int, heads: int, seq_len: int):
        super().__init__()
        self.max_positions = seq_len
        self.item_embedding = nn.Embedding(items, d)
        self.pos_embedding = nn.Embedding(seq_len, d)
        self.blocks = nn.Sequential(*[
            PreNormBlock(d, SelfAttention(d, heads, bias=False, causal=True, out_proj=False),
                         FeedForward(d, d, nn.ReLU))
            for _ in range(blocks)])
        self.norm = nn.LayerNorm(d)

    def forward(self, ids: torch.Tensor,
                past_key_values: KVCache | None = None) -> torch.Tensor:  # (batch, L) ids
        past = past_key_values.length() if past_key_values is not None else 0
        self.check_positions(past, ids.shape[1])
        x = self.item_embedding(ids) + self.pos_embedding.weight[past:past + ids.shape[1]]
        x = self.norm(self.run_blocks(x, past_key_values))
        # tied output: r = F N^T with N the item embedding (Section III-D)
        return torch.matmul(x, self.item_embedding.weight.t())


@register_model(
    knobs=(Knob("items", 57289, int, "items in the catalogue (Amazon Beauty)"),
           Knob("d", 50, int, "embedding width"),
           Knob("blocks", 2, int, "self-attention blocks"),
           Knob("heads", 1, int, "attention heads (must divide d)"),
           Knob("seq_len", 50, int, "maximum sequence length n")),
    input_shape=lambda k: (k["seq_len"],), input_dtype="int64", family="recsys",
    reference="Kang and McAuley 2018, Self-Attentive Sequential Recommendation, Section III "
              "and Table II")
def sasrec(items: int = 57289, d: int = 50, blocks: int = 2, heads: int = 1,
           seq_len: int = 50) -> SASRec:
    """SASRec: item + learned position embeddings, causal self-attention blocks, tied scores.

    Section III: attention is Attention(E W^Q, E W^K, E W^V) with no biases and no output
    projection (one head by default; more heads split d), a point-wise FFN of two d -> d
    Linears with ReLU and biases, and x + f(LayerNorm(x)) residuals; a final LayerNorm as in
    the authors' code. Defaults: d 50, 2 blocks, n 50 (Section IV-B) and Amazon Beauty's
    57,289 items (Table II). Scores every position against the whole catalogue with the
    item embedding (tied output, Section III-D), not a Linear; the paper ranks 101 sampled
    items instead. Padding masks are left out (the input is full length).
    """
    check_divides("heads", heads, "d", d)
    return SASRec(items, d, blocks, heads, seq_len)


__all__ = ["Decoder", "FeedForward", "KVCache", "PreNormBlock", "Rotary", "SelfAttention",
           "SwiGLU", "divisors"]
