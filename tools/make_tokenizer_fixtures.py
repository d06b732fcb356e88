#!/usr/bin/env python3
"""Build the tokenizer test fixtures with Hugging Face `tokenizers` / `transformers`.

Writes under tests/fixtures/tokenizers/:
  corpus.jsonl                 {"text": ...} one case per line (breadth: scripts, code, numbers,
                               emoji ZWJ/skin tones, odd whitespace, special tokens, empty, long)
  expected_<name>.jsonl        per corpus line: {"ids": HF encode(add_special_tokens=False),
                               "ids_special": HF encode(add_special_tokens=True),
                               "decoded": HF decode(ids, skip_special_tokens=False)}
  bytefallback/tokenizer.json  a Llama-2-style (Metaspace normalizer, byte_fallback) BPE made here
  metaspace/tokenizer.json     the same model with the Metaspace pre-tokenizer / decoder layout
  chat_templates.jsonl         {"template", "messages", "add_generation_prompt", "kwargs", "text"}
                               rendered by transformers' apply_chat_template / jinja2
  train_corpus.txt             corpus for `janus tokenizer-train`
  trained/                     (stage --trained) the tokenizer written by `janus tokenizer-train`

Usage:
  tools/.venv/bin/python tools/make_tokenizer_fixtures.py            # everything but `trained`
  build/apps/janus tokenizer-train --corpus tests/fixtures/tokenizers/train_corpus.txt \
      --vocab-size 1200 --out tests/fixtures/tokenizers/trained
  tools/.venv/bin/python tools/make_tokenizer_fixtures.py --trained  # expected ids for trained/
  tools/.venv/bin/python tools/make_tokenizer_fixtures.py --make-bench-corpus FILE [--mb 8]
  tools/.venv/bin/python tools/make_tokenizer_fixtures.py --bench FILE [--threads N] > hf.jsonl
      HF `tokenizers` load time and encode_batch MB/s with 1 and N rayon threads (reference for
      bench/bench_tokenizer --reference hf.jsonl)
"""
import argparse
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
SHARED = os.path.join(ROOT, "..", "shared", "data", "tokenizers")
REAL = ["deepseek_v3", "llama3_1", "qwen3"]

# ----------------------------------------------------------------------------------------- corpus
FIXED = [
    "",
    " ",
    "Hello world",
    "Hello, how are you?",
    "The quick brown fox jumps over the lazy dog.",
    "  leading and trailing spaces  ",
    "I'm sure you'll see they've done it, isn't it? He'd've said 'Yes'.",
    "I'M SURE YOU'LL SEE THEY'VE DONE IT. DON'T. 'S 'T 'RE 'VE 'M 'LL 'D",
    "long s: 'ſ and kelvin 'K",
    "中文分词测试：我们今天去北京大学参观。",
    "人工智能正在改变世界，深度学习模型越来越大。",
    "日本語のテキスト、カタカナとひらがなを混ぜる。東京タワー",
    "ｶﾀｶﾅ半角 ＡＢＣ全角 １２３",
    "한국어 텍스트입니다. 안녕하세요!",
    "العربية: مرحبا بالعالم، كيف حالك؟ ١٢٣٤٥",
    "Русский текст: Съешь же ещё этих мягких французских булок.",
    "Ελληνικά: Γειά σου Κόσμε",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया",
    "ภาษาไทย สวัสดีครับ",
    "Tiếng Việt: Xin chào thế giới",
    "def foo(x):\n    return x ** 2  # square\n",
    "int main(int argc, char** argv) {\n\tstd::printf(\"%d\\n\", argc);\n\treturn 0;\n}\n",
    "for (let i = 0; i < 10; ++i) { console.log(`i=${i}`); }",
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
    "<div class=\"x\">&amp;&lt;&gt;</div>",
    "https://example.com/path?query=1&b=2#frag",
    "user@example.com, +1 (555) 123-4567",
    "1234567890",
    "3.14159265358979 2.71828 -0.5 1e-10 1,000,000 12:30:45",
    "Numbers: 1 12 123 1234 12345 123456 1234567",
    "Version v1.2.3-rc.4+build.567",
    "½ ¾ ² ³ Ⅻ ⅷ ① ⑩ ٣ ۴ ߁",
    "Emoji: 😀😃😄 👍🏽 👩‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇺🇸 🇯🇵",
    "👨🏿‍💻👩🏻‍🔬 family: 👨‍👩‍👧 skin: 👋🏻👋🏼👋🏽👋🏾👋🏿",
    "Tabs\tand\t\ttabs",
    "CRLF line\r\nnext line\r\n\r\nthird",
    "Only CR\rhere\r",
    "NBSP\u00a0between\u00a0words\u00a0\u00a0double",
    "Ideographic\u3000space\u3000中文\u3000全角",
    "Thin\u2009space, en\u2002space, em\u2003space, narrow\u202fnbsp",
    "Zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "Line\u2028separator\u2029paragraph",
    "NEL\u0085char and VT\u000bFF\u000c",
    "Mixed \t \n \r\n   \t\t\n\n\n    end",
    "\n\n\n",
    "   \n   ",
    "a\x00b\x01c\x7f",
    "Combining: e\u0301 a\u0300 o\u0308 n\u0303 \u212b \u2126 A\u030a",
    "Hangul jamo: \u1100\u1161\u11a8 \u1112\u1161\u11ab",
    "Ligatures: \ufb01 \ufb02 \u2460 \u00bd \uff21",
    "Math: ∀x∈ℝ, ∃y: x²+y²≤1 ⇒ ∫f(x)dx ≈ Σ",
    "Currency: $100 €50 £30 ¥1000 ₹500 ₿0.1",
    "Punctuation!!! ??? ... --- ___ *** ### @@@",
    "«quotes» „German“ “curly” ‘single’ 「かぎ」『二重』",
    "Special in text: <|begin_of_text|>hello<|end_of_text|>",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>Hi<｜end▁of▁sentence｜>",
    "x<|endoftext|>y <|endoftext|> z<|endoftext|>",
    "Partial <|im_start and <|begin_of_text| and <｜User",
    "Nested <<|im_end|>> and <|<|eot_id|>|>",
    "<|eot_id|><|start_header_id|>system<|end_header_id|>\n\n",
    "<think>\nreasoning here\n</think>\n\nanswer",
    "<｜fim▁begin｜>def f():<｜fim▁hole｜>pass<｜fim▁end｜>",
    "<|EOT|> and <|EOT|>x",
    "a" * 300,
    "ab" * 200,
    " " * 100 + "x",
    "\t" * 50,
    "\n" * 40,
    "1" * 100,
    "中" * 200,
    "😀" * 50,
    "!" * 80,
    "The year 2024 had 366 days; 2023 had 365.",
    "camelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case",
    "file.tar.gz C:\\Windows\\System32 /usr/local/bin",
    "JSON: {\"key\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}",
    "Markdown **bold** _italic_ `code` [link](http://x.y) # Header\n- item\n1. one",
    "$$\\frac{a}{b} + \\sqrt{x^2}$$ \\begin{equation}E=mc^2\\end{equation}",
    "Mixed: English中文日本語한국어العربيةРусский",
    "ＡＢＣ１２３！？（）",
    "Surrogate-range emoji 𝕳𝖊𝖑𝖑𝖔 𝟘𝟙𝟚 𐍈 𓀀",
    "Private use \ue000\uf8ff and unassigned-ish \U000e0001",
    "Dotless ı İ ß ẞ ǅ ǈ",
]

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " \t\n\r\u00a0\u3000\u2009\u0085\u2028\u000b\u000c",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生",
    "あいうえおかきくけこアイウエオカキクケコ",
    "가나다라마바사아자차카타파하한국어",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "😀👍🏽👩‍💻🎉🔥✨❤️🇫🇷🤦🏼‍♂️",
    "\u0301\u0300\u0308\u0303\u0327",
    "éàüñçøåæœ",
    "，。！？：；“”‘’（）【】、",
]
SPECIALS = ["<|begin_of_text|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
            "<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<|eot_id|>", "<think>", "</think>",
            "<unk>", "<s>", "</s>"]


def build_corpus():
    rng = random.Random(20250101)
    lines = list(FIXED)
    for i in range(220):
        n_chunks = rng.randint(1, 12)
        parts = []
        for _ in range(n_chunks):
            if rng.random() < 0.06:
                parts.append(rng.choice(SPECIALS))
                continue
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 14))))
            if rng.random() < 0.5:
                parts.append(" ")
        lines.append("".join(parts))
    # A few long realistic paragraphs (multi-KB lines).
    para = ("In 2023, researchers trained models on 1.5T tokens; results improved by 12.7%. "
            "模型在中文基准上的表现也有提升。 They wrote: \"It's remarkable!\" 🎉\n"
            "def train(step: int) -> float:\n\treturn 0.5 * step ** -0.5\n")
    lines.append(para * 20)
    lines.append(("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40).strip())
    return lines


# ------------------------------------------------------------------------------- HF expectations
def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def expected_for(tok_path, corpus, out_name):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tok_path)
    rows = []
    for text in corpus:
        ids = tok.encode(text, add_special_tokens=False).ids
        ids_sp = tok.encode(text, add_special_tokens=True).ids
        rows.append({"ids": ids, "ids_special": ids_sp, "decoded": tok.decode(ids, skip_special_tokens=False)})
    write_jsonl(os.path.join(FIX, out_name), rows)
    print(f"wrote {out_name}: {len(rows)} rows")


def make_bytefallback(train_lines):
    """A Llama-2-style tokenizer: Prepend/Replace('▁') normalizer, no pre-tokenizer, BPE with
    byte_fallback + fuse_unk, Replace/ByteFallback/Fuse/Strip decoder."""
    from tokenizers import Tokenizer, models, normalizers, decoders, trainers, pre_tokenizers
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    bytes_tokens = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=["<unk>", "<s>", "</s>"] + bytes_tokens,
                                  initial_alphabet=[], limit_alphabet=120, show_progress=False)
    tok.train_from_iterator(train_lines, trainer=trainer)
    tok.pre_tokenizer = None  # Llama-2 files have none: the whole normalized text is one word
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    from tokenizers import processors
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    d = os.path.join(FIX, "bytefallback")
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f, indent=1)
    # The newer Llama-2-style layout: no normalizer, Metaspace pre-tokenizer (prepend_scheme
    # "first", split) and Metaspace + ByteFallback + Fuse decoder, same BPE model.
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="▁", prepend_scheme="first"),
                                     decoders.ByteFallback(), decoders.Fuse()])
    d = os.path.join(FIX, "metaspace")
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))


def train_corpus_text(corpus):
    rng = random.Random(7)
    out = []
    base = [l for l in corpus if 0 < len(l) < 2000]
    for _ in range(6):
        rng.shuffle(base)
        out.extend(base)
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ chat templates
QWEN25_TEMPLATE = (  # Qwen2.5-Instruct's template, its tool-free branch (tools are not supported)
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\") %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


# Llama-3.1-Instruct's template (meta-llama/Llama-3.1-8B-Instruct tokenizer_config.json, also
# DeepSeek-R1-Distill-Llama's base), transcribed verbatim.
LLAMA31_TEMPLATE = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""


def r1_template(v3):
    """DeepSeek-R1's template = V3's with two changes (published R1 tokenizer_config.json):
    historical assistant content keeps only the text after '</think>', and the generation prompt
    opens '<think>\\n'."""
    old = "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}"
    new = ("{% set content = message['content'] %}{% if '</think>' in content %}"
           "{% set content = content.split('</think>')[-1] %}{% endif %}"
           "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}")
    assert old in v3
    t = v3.replace(old, new)
    old_gen = "{{'<｜Assistant｜>'}}{% endif %}"
    assert t.endswith(old_gen)
    return t[: -len(old_gen)] + "{{'<｜Assistant｜><think>\\n'}}{% endif %}"


def janus_prompt(messages, add_generation_prompt, system_prompt=""):
    """Janus VLChatProcessor.apply_sft_template_for_multi_turn_prompts with sft_format 'deepseek'
    (janus/utils/conversation.py, SeparatorStyle.DeepSeek), re-stated here."""
    sys_msg = system_prompt
    conv = []
    for m in messages:
        if m["role"] == "system":
            sys_msg = m["content"]
        else:
            role = "<|User|>" if m["role"] == "user" else "<|Assistant|>"
            conv.append((role, m["content"].strip()))
    if add_generation_prompt:
        conv.append(("<|Assistant|>", ""))
    seps = ["\n\n", "<｜end▁of▁sentence｜>"]
    ret = "" if not sys_msg else sys_msg + seps[0]
    for i, (role, msg) in enumerate(conv):
        ret += role + ": " + msg + seps[i % 2] if msg else role + ":"
    return ret.strip()


CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell me a joke.\n"}],
    [{"role": "user", "content": "  spaced content \n"}, {"role": "assistant", "content": "ok  "},
     {"role": "user", "content": "中文问题？"}],
    [{"role": "user", "content": "Solve x+1=3"},
     {"role": "assistant", "content": "<think>\nx = 3 - 1\n</think>\n\nx = 2"},
     {"role": "user", "content": "And x+2=5?"}],
    [{"role": "system", "content": "sys one"}, {"role": "system", "content": "sys two"},
     {"role": "user", "content": "u"}],
    [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nr\n</think>\n\na"}],
]
JANUS_CONVERSATIONS = [
    [{"role": "user", "content": "<image_placeholder>\nWhat is in this image?"}],
    [{"role": "system", "content": "You are a helpful language and vision assistant. You are able to understand "
      "the visual content that the user provides, and assist the user with a variety of tasks using natural "
      "language."}, {"role": "user", "content": "<image_placeholder>\nDescribe the shapes."}],
    [{"role": "user", "content": "A red circle above a blue square"}],
    [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Hello."},
     {"role": "user", "content": "<image_placeholder><image_placeholder>\nCompare."}],
]


def make_chat_templates():
    import jinja2
    from transformers import AutoTokenizer
    rows = []
    v3_cfg = json.load(open(os.path.join(SHARED, "deepseek_v3", "tokenizer_config.json")))
    for name in REAL:
        tok = AutoTokenizer.from_pretrained(os.path.join(SHARED, name))
        for conv in CONVERSATIONS:
            for gen in (False, True):
                kw_list = [{}]
                if name == "qwen3":
                    kw_list.append({"enable_thinking": False})
                for kw in kw_list:
                    text = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, **kw)
                    rows.append({"template": name, "messages": conv, "add_generation_prompt": gen,
                                 "kwargs": kw, "text": text})
    # Templates not shipped in ../shared/data: rendered by jinja2 like transformers does
    # (trim_blocks + lstrip_blocks, loopcontrols).
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    extra = {"deepseek_r1": (r1_template(v3_cfg["chat_template"]), "<｜begin▁of▁sentence｜>"),
             "qwen2_5": (QWEN25_TEMPLATE, ""),
             "llama3_1_instruct": (LLAMA31_TEMPLATE, "<|begin_of_text|>")}
    for name, (src, bos) in extra.items():
        tpl = env.from_string(src)
        for conv in CONVERSATIONS:
            for gen in (False, True):
                text = tpl.render(messages=conv, add_generation_prompt=gen, bos_token=bos)
                rows.append({"template": name, "messages": conv, "add_generation_prompt": gen,
                             "kwargs": {}, "text": text})
    for conv in JANUS_CONVERSATIONS:
        for gen in (False, True):
            rows.append({"template": "janus", "messages": conv, "add_generation_prompt": gen, "kwargs": {},
                         "text": janus_prompt(conv, gen)})
    write_jsonl(os.path.join(FIX, "chat_templates.jsonl"), rows)
    print(f"wrote chat_templates.jsonl: {len(rows)} rows")


# -------------------------------------------------------------------------------------- bench
def make_bench_corpus(out, mb):
    """~`mb` MB of documents, one per line: Python standard library sources (code, English
    comments/docstrings) and random multilingual lines from the fixture pools (cache-unfriendly)."""
    import sysconfig
    rng = random.Random(99)
    docs, size = [], 0
    stdlib = sysconfig.get_paths()["stdlib"]
    files = []
    for root, _, names in os.walk(stdlib):
        if "site-packages" in root or "test" in root:
            continue
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
    files.sort()
    rng.shuffle(files)
    target_code = int(mb * 1e6 * 0.7)
    for f in files:
        try:
            text = open(f, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        for para in text.split("\n\n"):
            line = para.replace("\n", "\\n")  # one document per line, newlines kept visible
            docs.append(line)
            size += len(line.encode())
        if size >= target_code:
            break
    while size < mb * 1e6:
        parts = []
        for _ in range(rng.randint(5, 40)):
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 12))))
        line = " ".join(parts).replace("\n", " ").replace("\r", " ")
        docs.append(line)
        size += len(line.encode())
    rng.shuffle(docs)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(docs))
    print(f"wrote {out}: {size / 1e6:.2f} MB, {len(docs)} lines")


def bench_worker(path, names, threads):
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    from tokenizers import Tokenizer
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    mb = len(text.encode()) / 1e6 - (len(lines) - 1) / 1e6  # newlines are not encoded
    res = {}
    for name in names:
        p = os.path.join(SHARED, name, "tokenizer.json")
        load = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            tok = Tokenizer.from_file(p)
            load = min(load, time.perf_counter() - t0)
        tok.encode_batch(lines, add_special_tokens=False)  # warm-up (fills the word cache)
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            tok.encode_batch(lines, add_special_tokens=False)
            best = min(best, time.perf_counter() - t0)
        res[name] = {"load_s": load, "mb_s": mb / best}
    print(json.dumps(res))


def bench(path, names, threads):
    import subprocess
    runs = {}
    for t in (1, threads):
        out = subprocess.run([sys.executable, __file__, "--bench-worker", path, "--threads", str(t)],
                             check=True, capture_output=True, text=True).stdout
        runs[t] = json.loads(out.strip().splitlines()[-1])
    for name in names:
        print(json.dumps({"tokenizer": name, "load_s": round(min(runs[1][name]["load_s"], runs[threads][name]["load_s"]), 4),
                          "single_mb_s": round(runs[1][name]["mb_s"], 3),
                          "batch_mb_s": round(runs[threads][name]["mb_s"], 3), "threads": threads}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trained", action="store_true")
    ap.add_argument("--bench")
    ap.add_argument("--bench-worker")
    ap.add_argument("--make-bench-corpus")
    ap.add_argument("--mb", type=float, default=8.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if a.make_bench_corpus:
        make_bench_corpus(a.make_bench_corpus, a.mb)
        return
    if a.bench_worker:
        bench_worker(a.bench_worker, REAL, a.threads)
        return
    if a.bench:
        bench(a.bench, REAL, a.threads)
        return
    os.makedirs(FIX, exist_ok=True)
    corpus = build_corpus()
    if a.trained:
        expected_for(os.path.join(FIX, "trained", "tokenizer.json"), corpus, "expected_trained.jsonl")
        return
    write_jsonl(os.path.join(FIX, "corpus.jsonl"), [{"text": t} for t in corpus])
    with open(os.path.join(FIX, "train_corpus.txt"), "w", encoding="utf-8") as f:
        f.write(train_corpus_text(corpus))
    for name in REAL:
        expected_for(os.path.join(SHARED, name, "tokenizer.json"), corpus, f"expected_{name}.jsonl")
    make_bytefallback([l for l in corpus if l])
    expected_for(os.path.join(FIX, "bytefallback", "tokenizer.json"), corpus, "expected_bytefallback.jsonl")
    expected_for(os.path.join(FIX, "metaspace", "tokenizer.json"), corpus, "expected_metaspace.jsonl")
    make_chat_templates()


if __name__ == "__main__":
    main()
