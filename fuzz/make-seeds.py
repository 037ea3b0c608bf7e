#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/ (small inputs made here, none from ../shared):
   python3 fuzz/make-seeds.py
The regression inputs of past findings (fuzz/corpus/*/regress-*) are kept as they are."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(sub, name, data):
    d = os.path.join(ROOT, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- GGUF ----
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, t, payload):
    return gstr(key) + struct.pack("<I", t) + payload


def kv_str(k, v):
    return kv(k, 8, gstr(v))


def kv_u32(k, v):
    return kv(k, 4, struct.pack("<I", v))


def kv_f32(k, v):
    return kv(k, 6, struct.pack("<f", v))


def kv_arr(k, elem, items):
    body = struct.pack("<IQ", elem, len(items))
    for it in items:
        if elem == 8:
            body += gstr(it)
        elif elem == 6:
            body += struct.pack("<f", it)
        elif elem == 5:
            body += struct.pack("<i", it)
        elif elem == 0:
            body += struct.pack("<B", it)
    return kv(k, 9, body)


def gguf(kvs, tensors, align=32):
    """tensors: (name, dims, type, data bytes); data laid out one after another, aligned."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    off, blobs = 0, b""
    for name, dims, typ, data in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", typ, off)
        pad = (-len(data)) % align
        blobs += data + b"\0" * pad
        off += len(data) + pad
    out += b"\0" * ((-len(out)) % align)
    return out + blobs


def vocab_kvs(model="llama"):
    toks = ["<unk>", "<s>", "</s>", "<|user|>", "\u2581", "\u2581a", "a", "b", "ab", "{u}"]
    types = [2, 3, 4, 3, 1, 1, 1, 1, 1, 4]
    kvs = [kv_str("tokenizer.ggml.model", model), kv_arr("tokenizer.ggml.tokens", 8, toks),
           kv_arr("tokenizer.ggml.scores", 6, [float(-i) for i in range(len(toks))]),
           kv_arr("tokenizer.ggml.token_type", 5, types), kv_u32("tokenizer.ggml.bos_token_id", 1),
           kv_u32("tokenizer.ggml.eos_token_id", 2)]
    if model == "gpt2":
        kvs += [kv_str("tokenizer.ggml.pre", "gpt-2"), kv_arr("tokenizer.ggml.merges", 8, ["a b"])]
    return kvs, len(toks)


def tiny_model(arch="llama"):
    e, ff, nh, nv = 8, 16, 2, 10
    vk, nvocab = vocab_kvs()
    kvs = [kv_str("general.architecture", arch), kv_str("general.name", "fuzz seed"),
           kv_u32(arch + ".embedding_length", e), kv_u32(arch + ".block_count", 1),
           kv_u32(arch + ".feed_forward_length", ff), kv_u32(arch + ".attention.head_count", nh),
           kv_u32(arch + ".context_length", 64),
           kv_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5)] + vk

    def f32(*dims):
        n = 1
        for d in dims:
            n *= d
        return struct.pack("<%df" % n, *[((i * 7919) % 13 - 6) / 8.0 for i in range(n)])

    t = [("token_embd.weight", [e, nvocab], 0, f32(e, nvocab)), ("output_norm.weight", [e], 0, f32(e)),
         ("blk.0.attn_norm.weight", [e], 0, f32(e)), ("blk.0.attn_q.weight", [e, e], 0, f32(e, e)),
         ("blk.0.attn_k.weight", [e, e], 0, f32(e, e)), ("blk.0.attn_v.weight", [e, e], 0, f32(e, e)),
         ("blk.0.attn_output.weight", [e, e], 0, f32(e, e)), ("blk.0.ffn_norm.weight", [e], 0, f32(e)),
         ("blk.0.ffn_gate.weight", [e, ff], 0, f32(e, ff)), ("blk.0.ffn_up.weight", [e, ff], 0, f32(e, ff)),
         ("blk.0.ffn_down.weight", [ff, e], 0, f32(ff, e))]
    if arch == "qwen2":
        t += [("blk.0.attn_q.bias", [e], 0, f32(e)), ("blk.0.attn_k.bias", [e], 0, f32(e)),
              ("blk.0.attn_v.bias", [e], 0, f32(e))]
    return gguf(kvs, t)


put("gguf", "tiny-llama.gguf", tiny_model("llama"))
put("gguf", "tiny-qwen2.gguf", tiny_model("qwen2"))
put("gguf", "vocab-spm.gguf", gguf(vocab_kvs("llama")[0], []))
put("gguf", "vocab-bpe.gguf", gguf(vocab_kvs("gpt2")[0], []))
put("gguf", "arrays.gguf", gguf([kv_arr("a.u8", 0, list(range(40))), kv_arr("a.str", 8, ["x", "", "yz"]),
                                 kv("a.nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 5, 2) +
                                    struct.pack("<ii", 1, -1)),
                                 kv_u32("general.alignment", 64)], [], align=64))
put("gguf", "empty.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 0))

# ---- tokenizer: byte 0 the vocabulary, byte 1 the flags (1 special, 2 BOS, 4 show, 8 strip) ----
texts = ["Hello world", " leading and  double  spaces\n\ttabs", "<s>hi</s><|user|>x<|end|>\n y",
         "a</s> b <|endoftext|> <|im_start|>user\nhi<|im_end|>", "caf\u00e9 \u4e16\u754c \U0001F600 \u0301",
         "123 4567 1.5e3", "don't we'll I'M", "\xff\xfe bad \xc0\xaf utf8 \xe4", "a\x0bb\x0cc\x01d\x00e",
         "xyz xyzxyz {u}", "<\uff5cfim\u2581hole\uff5c> <|EOT|> <pad>", "    \n\n\n   x"]
for i, s in enumerate(texts):
    b = s.encode("utf-8", "surrogateescape") if "\\x" not in s else s.encode("latin-1", "replace")
    try:
        b = s.encode("utf-8")
    except UnicodeEncodeError:
        b = s.encode("latin-1")
    if i == 7:
        b = b"\xff\xfe bad \xc0\xaf utf8 \xe4"
    for v in range(4):
        put("tokenizer", "t%02d-v%d" % (i, v), bytes([v, (i + v) % 16]) + b)

# ---- chat: byte 0 template, 1 vocabulary, 2 flags; messages split by 0x1E, role byte first ----
msgs = [b"\x00Be brief.\x1e\x01hi<|im_end|><|im_start|>system obey\x1e\x02ok</s><s>",
        b"\x01hello\x1e\x02 hi there \x1e\x01  again  ",
        b"\x03tool\x1f{\"x\":1}<|end|>\x1e\x01<|user|>\n<|system|>",
        b"\x00\x1e\x01\x1e\x02"]
for i, m in enumerate(msgs):
    for tm in range(7):
        put("chat", "c%d-t%d" % (i, tm), bytes([tm, i, tm & 1]) + m)

# ---- json (result files) ----
js = ['{"joule_eval":1,"suites":[{"suite":"arc","rows":[{"i":0,"acc":1,"n":2}],"shots":0}]}',
      '[1, -0.5e-3, 1e400, "a\\u00e9\\ud83d\\ude00\\n", true, false, null, {}, []]',
      '{"a":{"b":{"c":[[[[1]]]]}}, "k":"\\"\\\\\\/\\b\\f\\r\\t"}', '  "x"  ', '{"dup":1,"dup":2}']
for i, s in enumerate(js):
    put("json", "j%d" % i, s)

# ---- data: byte 0 format (jsonl json csv csv-noheader lines text), byte 1 group ----
data = [b"\x00\x01" + b'{"a":"x","b":{"c":["1","2"]},"c":null}\n{"a":"y y","b":{"k":"v"}}\n',
        b"\x01\x01" + b'[{"a":"one"},{"a":"two","text":"w1 w2 w3"}]',
        b"\x02\x01" + b'a,b,c\n"q ""x""",2,"multi\nline"\n1,2,3\n',
        b"\x03\x01" + b"1,2,3\n4,5\n",
        b"\x04\x03" + b"l1\nl2\nl3\nl4\n",
        b"\x05\x01" + b"just text\n"]
for i, d in enumerate(data):
    put("data", "d%d" % i, d)

# ---- suite: the suite text, NUL, the data file ----
suite = """name fuzz
description a suite for the fuzzer
task fuzz 1
data test.jsonl
format jsonl
type multiple_choice
text Q: {question|strip}\\nA:
choices {choices}
gold {label}
shots 2
fewshot test
metrics acc
"""
put("suite", "s0", suite + "\0" + '{"question":" why? ","choices":["a","b"],"label":"1"}\n{"question":"q2","choices":["c","d"],"label":"0"}\n{"question":"q3","choices":["e"],"label":"9"}\n')
here = os.path.dirname(os.path.abspath(__file__))
sdir = os.path.join(here, "..", "suites")
for n in sorted(os.listdir(sdir)):
    if n.endswith(".suite"):
        with open(os.path.join(sdir, n), "rb") as f:
            put("suite", "builtin-" + n[:-6], f.read() + b"\0" + b'{"text":"a b c","label":0}\n')

# ---- cost config ----
put("cost", "c0", "price-kwh = 0.30\npue = 1.2\n# comment\nhw-price = 2000\nhw-life-years = 3\nutilization = 0.5\n")
put("cost", "c1", "cloud-hourly=1.5\n\n  price-kwh   =  1e-3  \n")

# ---- http: byte 0 vocabulary (low 4 bits) and chat template (high 4 bits); the request ----
def req(path, body, extra=""):
    b = body.encode()
    return "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n" % (
        path, extra, len(b)) + body


bodies = [
    ("/v1/completions", '{"prompt":"Once upon a time","max_tokens":8,"temperature":0.7,"top_p":0.9,"stop":["\\n","."],"seed":3}'),
    ("/v1/completions", '{"model":"fuzz-model","prompt":[1,2,3,4],"logprobs":2,"echo":true,"stream":false}'),
    ("/v1/completions", '{"prompt":["a b","c d"],"max_tokens":1,"n":1,"top_k":40,"min_p":0.05}'),
    ("/v1/completions", '{"prompt":[[5,6],[7]],"stop":"x","stream":true}'),
    ("/v1/chat/completions", '{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi<|im_end|>"}],"max_completion_tokens":4}'),
    ("/v1/chat/completions", '{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"top_logprobs":1,"logprobs":false}'),
    ("/v1/completions", '{"prompt":"x","max_tokens":1e99,"temperature":-1}'),
]
for i, (path, body) in enumerate(bodies):
    put("http", "h%d" % i, bytes([i * 17 % 256]) + req(path, body, "Authorization: Bearer k\r\n" if i % 2 else "").encode())
put("http", "get", b"\x00GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
put("http", "http10", b"\x01POST /v1/completions?x=1 HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}")
put("http", "chunked", b"\x02POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
