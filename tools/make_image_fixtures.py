#!/usr/bin/env python3
r"""Generate image decoding / resize / Janus preprocessing fixtures with PIL and transformers.

Run (deterministic: a second run writes byte-identical files):

    tools/.venv/bin/python tools/make_image_fixtures.py --out tests/fixtures/images

Writes into --out:
  images/...            the test images (odd sizes and modes, see IMAGES below) and hostile files
  expected.safetensors  the references, per image file F:
    F/rgb         u8 [H, W, 3]  PIL: ImageOps.exif_transpose(Image.open(F)).convert("RGB")
                                (only for images up to 65536 pixels; bigger ones store rows 0..31
                                in F/rgb_head and the FNV-1a-64 hash of all H*W*3 bytes in F/rgb_hash,
                                as i64 [1] holding the uint64 bit pattern)
    F/rgb_shape   i64 [2]       (H, W) of the decoded image
    F/resize      u8 [h, w, 3]  rgb.resize((w, h), Image.BICUBIC): one axis shrinks, the other grows
    F/pp_index    u8 [3, S, S]  transformers' JanusImageProcessorPil(size S, mean = std = 0.5,
                                min_size 14) pixel_values for the RGB image, stored losslessly as
                                indices into pp_table: pixel_values[c, y, x] == pp_table[c, index]
                                exactly (asserted here), which keeps a 384 px reference at 1 byte per value
    F/pp_size     i64 [1]       S (384 for two images, 64 for the rest)
  and globally:
    pp_table          f32 [3, 256]  the processor's normalised value of every 8-bit level
    sweep/src         u8 [23, 37, 3] random RGB; sweep/W_H u8 [H, W, 3] its PIL bicubic resize
                      (sizes chosen around Pillow 13's vertical-first rule, see vision/resize.h)
    post/x            f32 [3, 16, 16] values around [-1, 1] (incl. values whose (x+1)/2*255 is
                      next to an integer); post/original u8 [16, 16, 3] the original Janus
                      postprocess (np.clip((x + 1) / 2 * 255, 0, 255) in float32 -> uint8);
                      post/transformers u8 [16, 16, 3] JanusImageProcessorPil.postprocess
  metadata: "manifest" = JSON {"files": [{"file", "desc"}...], "hostile": [file...]}.
"""
import argparse
import io
import json
import os
import struct
import zlib

import numpy as np
import PIL
import transformers
from PIL import Image, ImageOps
from safetensors.numpy import save_file
from transformers.models.janus.image_processing_pil_janus import JanusImageProcessorPil

RNG = np.random.RandomState(1234)


def smooth_rgb(w, h, seed, noise=6):
    """A gradient + blobs image with mild noise: realistic for codecs, small as PNG/JPEG."""
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = r.uniform(0.5, 4), r.uniform(0.5, 4), r.uniform(0, 6.3)
        img[..., c] = 127 + 100 * np.sin(fx * 6.28 * x / max(w, 1) + ph) * np.cos(fy * 6.28 * y / max(h, 1))
    for _ in range(3):
        cx, cy, rad = r.uniform(0, w), r.uniform(0, h), r.uniform(2, max(3, min(w, h) / 3))
        m = (x - cx) ** 2 + (y - cy) ** 2 < rad**2
        img[m] = r.uniform(0, 255, 3)
    img += r.normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def raw_png(w, h, color_type, bit_depth, rows):
    """PNG writer for what PIL cannot write (16-bit RGB/RGBA, huge declared sizes)."""
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def exif_bytes(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def save(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def make_images():
    """Returns [(file name, bytes, description)]."""
    out = []
    add = lambda name, data, desc: out.append((name, data, desc))
    rgb = lambda w, h, s: Image.fromarray(smooth_rgb(w, h, s))

    add("png_rgb_1x1.png", save(rgb(1, 1, 1), "PNG"), "PNG RGB 1x1")
    add("png_rgb_3x500.png", save(rgb(3, 500, 2), "PNG"), "PNG RGB 3x500 (tall strip)")
    add("png_rgb_777x33.png", save(rgb(777, 33, 3), "PNG"), "PNG RGB 777x33 (wide strip)")
    add("png_rgb_384x384.png", save(rgb(384, 384, 4), "PNG", optimize=True), "PNG RGB 384x384 (no resize)")
    rgba = np.dstack([smooth_rgb(57, 31, 5), RNG.randint(0, 256, (31, 57)).astype(np.uint8)])
    add("png_rgba_57x31.png", save(Image.fromarray(rgba, "RGBA"), "PNG"), "PNG RGBA, random alpha (dropped)")
    add("png_l_200x17.png", save(rgb(200, 17, 6).convert("L"), "PNG"), "PNG gray L")
    la = np.dstack([smooth_rgb(45, 60, 7)[..., 0], RNG.randint(0, 256, (60, 45)).astype(np.uint8)])
    add("png_la_45x60.png", save(Image.fromarray(la, "LA"), "PNG"), "PNG gray+alpha LA")
    pal = rgb(64, 48, 8).quantize(16)
    add("png_p_64x48.png", save(pal, "PNG"), "PNG palette P (16 colours)")
    add("png_p_trns_33x21.png", save(rgb(33, 21, 9).quantize(8), "PNG", transparency=3), "PNG palette + tRNS")
    add("png_1bit_37x19.png", save(rgb(37, 19, 10).convert("1"), "PNG"), "PNG 1-bit")
    g16 = (smooth_rgb(40, 30, 11)[..., 0].astype(np.uint16) * 257)
    g16[:5] = RNG.randint(0, 300, (5, 40))  # some values <= 255 (PIL clamps I;16 -> RGB at 255)
    add("png_i16_40x30.png", save(Image.fromarray(g16), "PNG"), "PNG 16-bit gray (PIL I;16)")
    c16 = RNG.randint(0, 65536, (20, 50, 3)).astype(">u2")
    add("png_rgb16_50x20.png", raw_png(50, 20, 2, 16, [r.tobytes() for r in c16]), "PNG 16-bit RGB")
    c16a = RNG.randint(0, 65536, (9, 11, 4)).astype(">u2")
    add("png_rgba16_11x9.png", raw_png(11, 9, 6, 16, [r.tobytes() for r in c16a]), "PNG 16-bit RGBA")
    add("png_exif8_30x20.png", save(rgb(30, 20, 12), "PNG", exif=exif_bytes(8)), "PNG with eXIf orientation 8")
    add("png_named_as.jpg", save(rgb(23, 29, 13), "PNG"), "PNG with a .jpg extension")

    add("jpg_rgb_1000x999.jpg", save(rgb(1000, 999, 14), "JPEG", quality=80), "JPEG 4:2:0 1000x999")
    add("jpg_444_123x77.jpg", save(rgb(123, 77, 15), "JPEG", quality=90, subsampling=0), "JPEG 4:4:4")
    add("jpg_422_65x129.jpg", save(rgb(65, 129, 16), "JPEG", quality=70, subsampling=1), "JPEG 4:2:2")
    add("jpg_progressive_100x80.jpg", save(rgb(100, 80, 17), "JPEG", progressive=True), "JPEG progressive")
    add("jpg_gray_90x45.jpg", save(rgb(90, 45, 18).convert("L"), "JPEG"), "JPEG grayscale")
    add("jpg_cmyk_48x40.jpg", save(rgb(48, 40, 19).convert("CMYK"), "JPEG"), "JPEG CMYK (Adobe)")
    add("jpg_exif6_60x40.jpg", save(rgb(60, 40, 20), "JPEG", exif=exif_bytes(6)), "JPEG EXIF orientation 6")
    for o in (2, 3, 4, 5, 7, 8):
        add(f"jpg_exif{o}_7x5.jpg", save(rgb(7, 5, 20 + o), "JPEG", quality=95, exif=exif_bytes(o)),
            f"JPEG EXIF orientation {o}")
    add("jpg_odd_1x1.jpg", save(rgb(1, 1, 27), "JPEG"), "JPEG 1x1")

    add("bmp_rgb_31x17.bmp", save(rgb(31, 17, 30), "BMP"), "BMP 24-bit")
    add("bmp_p_20x10.bmp", save(rgb(20, 10, 31).quantize(32), "BMP"), "BMP 8-bit palette")
    add("bmp_1bit_13x7.bmp", save(rgb(13, 7, 32).convert("1"), "BMP"), "BMP 1-bit")

    add("gif_70x50.gif", save(rgb(70, 50, 40).quantize(64), "GIF"), "GIF 64 colours")
    add("gif_trns_40x30.gif", save(rgb(40, 30, 41).quantize(16), "GIF", transparency=5), "GIF with transparency")

    add("webp_lossless_80x60.webp", save(rgb(80, 60, 50), "WEBP", lossless=True), "WebP lossless")
    add("webp_lossy_81x59.webp", save(rgb(81, 59, 51), "WEBP", quality=80), "WebP lossy")
    wa = np.dstack([smooth_rgb(40, 30, 52), np.full((30, 40), 200, np.uint8)])
    add("webp_rgba_40x30.webp", save(Image.fromarray(wa, "RGBA"), "WEBP", lossless=True, exact=True),
        "WebP lossless RGBA")
    add("webp_exif3_20x10.webp", save(rgb(20, 10, 53), "WEBP", lossless=True, exif=exif_bytes(3)),
        "WebP with EXIF orientation 3")
    return out


def make_hostile(images):
    good_png = dict((n, d) for n, d, _ in images)["png_rgb_777x33.png"]
    good_jpg = dict((n, d) for n, d, _ in images)["jpg_444_123x77.jpg"]
    good_gif = dict((n, d) for n, d, _ in images)["gif_70x50.gif"]
    bomb = raw_png(100000, 100000, 2, 8, [b""])[:33]  # signature + IHDR (100000 x 100000 RGB)
    bomb += png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b"")
    zero = raw_png(0, 10, 2, 8, [])
    return [
        ("hostile_truncated.png", good_png[: len(good_png) * 6 // 10]),
        ("hostile_truncated.jpg", good_jpg[: len(good_jpg) // 2]),
        ("hostile_truncated.gif", good_gif[: len(good_gif) // 2]),
        ("hostile_empty.png", b""),
        ("hostile_random.png", RNG.randint(0, 256, 1000).astype(np.uint8).tobytes()),
        ("hostile_bomb.png", bomb),
        ("hostile_zero_width.png", zero),
        ("hostile_header_only.jpg", good_jpg[:20]),
    ]


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for byte in b:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def pil_rgb(data):
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    img_dir = os.path.join(args.out, "images")
    os.makedirs(img_dir, exist_ok=True)

    images = make_images()
    hostile = make_hostile(images)
    for name, data, _ in images:
        open(os.path.join(img_dir, name), "wb").write(data)
    for name, data in hostile:
        open(os.path.join(img_dir, name), "wb").write(data)

    procs = {s: JanusImageProcessorPil(size={"height": s, "width": s}, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                                       min_size=14) for s in (64, 384)}
    assert procs[384].background_color == (127, 127, 127)
    # The normalised value of every level: a 256 x 1 image through rescale + normalize only.
    levels = np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (1, 1, 3))
    table = procs[64](images=Image.fromarray(levels), do_resize=False, do_pad=False,
                      return_tensors="np")["pixel_values"][0][:, 0, :].astype(np.float32)  # [3, 256]
    big_pp = {"jpg_rgb_1000x999.jpg", "png_rgb_777x33.png"}

    t = {"pp_table": table}
    for name, data, _ in images:
        rgb = pil_rgb(data)
        a = np.asarray(rgb)
        h, w = a.shape[:2]
        t[f"{name}/rgb_shape"] = np.array([h, w], np.int64)
        if h * w <= 65536:
            t[f"{name}/rgb"] = a
        else:
            t[f"{name}/rgb_head"] = np.ascontiguousarray(a[:32])
            t[f"{name}/rgb_hash"] = np.array([fnv1a64(a.tobytes())], np.uint64).view(np.int64)
        tw, th = max(1, min(300, w * 3 // 7 + 1)), max(1, min(300, h * 8 // 5))
        if name == "jpg_rgb_1000x999.jpg":
            tw, th = 97, 131
        t[f"{name}/resize"] = np.asarray(rgb.resize((tw, th), Image.BICUBIC))
        s = 384 if name in big_pp else 64
        pv = procs[s](images=rgb, return_tensors="np")["pixel_values"][0].astype(np.float32)
        assert pv.shape == (3, s, s), (name, pv.shape)
        idx = np.zeros(pv.shape, np.uint8)
        for c in range(3):
            pos = np.searchsorted(table[c], pv[c])
            pos = np.clip(pos, 0, 255)
            assert np.array_equal(table[c][pos], pv[c]), name
            idx[c] = pos
        t[f"{name}/pp_index"] = idx
        t[f"{name}/pp_size"] = np.array([s], np.int64)

    src = smooth_rgb(37, 23, 99, noise=60)
    t["sweep/src"] = src
    for w, h in [(1, 1), (1, 23), (37, 1), (5, 3), (18, 11), (36, 22), (38, 24), (74, 46), (150, 7), (3, 150),
                 (111, 69), (13, 40), (30, 5), (29, 7), (30, 7), (33, 10), (36, 1)]:
        t[f"sweep/{w}_{h}"] = np.asarray(Image.fromarray(src).resize((w, h), Image.BICUBIC))

    x = RNG.uniform(-1.1, 1.1, (3, 16, 16)).astype(np.float32)
    # Values whose (x + 1) / 2 * 255 lands within a few ulps of an integer: where the two
    # postprocess recipes can disagree.
    k = RNG.randint(0, 256, 200)
    near = (k / 255.0 * 2 - 1).astype(np.float32)
    near = np.nextafter(near, RNG.choice([-1, 1], 200).astype(np.float32) * 2).astype(np.float32)
    x.reshape(-1)[:200] = near
    t["post/x"] = x
    t["post/original"] = np.ascontiguousarray(np.clip((x.transpose(1, 2, 0) + 1) / 2 * 255, 0, 255).astype(np.uint8))
    tp = procs[64].postprocess(x[None], return_tensors="np")["pixel_values"][0]
    t["post/transformers"] = np.ascontiguousarray(np.asarray(tp).transpose(1, 2, 0)).astype(np.uint8)

    # One metadata key: safetensors writes several in a random order (the file would not be reproducible).
    meta = {"manifest": json.dumps({"files": [{"file": n, "desc": d} for n, _, d in images],
                                    "hostile": [n for n, _ in hostile],
                                    "pillow": PIL.__version__, "transformers": transformers.__version__})}
    save_file(t, os.path.join(args.out, "expected.safetensors"), metadata=meta)
    total = sum(len(d) for _, d, _ in images) + sum(len(d) for _, d in hostile)
    print(f"{len(images)} images + {len(hostile)} hostile files ({total} bytes), "
          f"expected.safetensors {os.path.getsize(os.path.join(args.out, 'expected.safetensors'))} bytes")


if __name__ == "__main__":
    main()
