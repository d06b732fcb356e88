"""Writes tests/fixtures/train_recipe/corpus.jsonl: a tiny, deterministic shapes-world text corpus
(captions as "text" records, VQA as prompt/answer records) for the `janus train` recipe tests.
The tokenizer beside it is then trained with:
  janus tokenizer-train --corpus tests/fixtures/train_recipe/corpus_text.txt --vocab-size 320 \
      --special '<｜begin▁of▁sentence｜>' --special '<｜end▁of▁sentence｜>' --special '<｜▁pad▁｜>' \
      --out tests/fixtures/train_recipe/tokenizer
Usage: tools/.venv/bin/python tools/make_train_recipe_fixture.py"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "train_recipe")
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
SHAPES = ["circle", "square", "triangle", "star"]
SIZES = ["small", "large"]
CELLS = ["top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right"]


def main():
    rng = random.Random(1234)
    records, texts = [], []
    for i in range(240):
        c, s, z, p = rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(SIZES), rng.choice(CELLS)
        if i % 2 == 0:
            t = f"a {z} {c} {s} in the {p}."
            records.append({"text": t})
            texts.append(t)
        else:
            q = rng.choice(["colour", "shape", "where"])
            if q == "colour":
                prompt, ans = f"<|User|>: what colour is the {z} {s}?\n\n<|Assistant|>:", f" {c}"
            elif q == "shape":
                prompt, ans = f"<|User|>: what shape is {c}?\n\n<|Assistant|>:", f" a {s}"
            else:
                prompt, ans = f"<|User|>: where is the {c} {s}?\n\n<|Assistant|>:", f" {p}"
            records.append({"prompt": prompt, "answer": ans, "task": "vqa"})
            texts.append(prompt + ans)
    with open(os.path.join(OUT, "corpus.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(OUT, "corpus_text.txt"), "w") as f:
        f.write("\n".join(texts) + "\n")


if __name__ == "__main__":
    main()
