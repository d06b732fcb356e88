#!/usr/bin/env python3
"""Fixtures for the PyTorch .bin reader (llm/torch_bin.h) -> tests/fixtures/torch_bin/.

Deterministic (seeded); needs torch + safetensors (tools/.venv). Writes:
  dtypes.bin           torch.save of a plain dict: f32, bf16, f16, f64, i64, i32, u8, fp8 e4m3 (saved
                       through _rebuild_tensor_v3 + UntypedStorage), bool (unsupported by Janus)
  views.bin            views of shared storages: a slice at an offset, a transposed (non-contiguous)
                       view, a strided column, two tensors on one storage, an nn.Parameter
  module.bin           nn.Module.state_dict() (OrderedDict with _metadata -> BUILD)
  zip64.bin            views.bin's entries re-packed with Zip64 central-directory records
                       (what torch writes for checkpoints > 4 GB), storages aligned to 64 bytes
  sharded/             pytorch_model-0000{1,2}-of-00002.bin + pytorch_model.bin.index.json
  expected.safetensors contiguous copies of every Janus-supported tensor above, same names
  evil_os_system.bin   a torch-shaped zip whose data.pkl calls os.system (hand-written pickle)
  evil_reduce.bin      torch.save of an object whose __reduce__ returns (os.system, ...)
  legacy.bin           torch.save(..., _use_new_zipfile_serialization=False)
  deflated.bin         dtypes.bin re-packed with zip compression
"""
import collections
import io
import json
import os
import struct
import zipfile
import zlib

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch_bin")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def write_zip64(path, entries):
    """A stored zip with Zip64 central-directory records for every entry, data aligned to 64."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        header_len = 30 + len(nb)
        pad = (-(len(out) + header_len + 4)) % 64
        extra = struct.pack("<HH", 0x4646, pad) + b"\0" * pad  # padding field, as torch does
        offset = len(out)
        crc = zlib.crc32(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, len(data), len(data), len(nb), len(extra))
        out += nb + extra + data
        z64 = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(z64), 0, 0, 0, 0, 0xFFFFFFFF)
        central += nb + z64
    cd_off = len(out)
    out += central
    z64_off = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_off, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def main():
    torch.manual_seed(1234)
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    expected = {}

    dtypes = {
        "f32": torch.randn(3, 4),
        "bf16": torch.randn(2, 5).to(torch.bfloat16),
        "f16": torch.randn(7).to(torch.float16),
        "f64": torch.randn(2, 2, dtype=torch.float64),
        "i64": torch.arange(-3, 3, dtype=torch.int64).reshape(2, 3),
        "i32": torch.tensor([1, -2, 2**31 - 1], dtype=torch.int32),
        "u8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "fp8": torch.tensor([0.5, -1.0, 448.0, 3.0]).to(torch.float8_e4m3fn),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "flag": torch.tensor([True, False]),
    }
    torch.save(dtypes, os.path.join(OUT, "dtypes.bin"))
    for k, v in dtypes.items():
        if k != "flag":
            expected[k] = v.contiguous()

    base = torch.arange(40, dtype=torch.float32) * 0.5
    mat = torch.randn(4, 6)
    views = collections.OrderedDict()
    views["slice"] = base[3:11]  # offset 3, contiguous
    views["slice2d"] = base[8:20].view(3, 4)  # same storage, offset 8
    views["transposed"] = mat.t()  # strides (1, 6)
    views["column"] = mat[:, 2]  # stride 6, offset 2
    views["full"] = mat
    views["param"] = torch.nn.Parameter(torch.randn(2, 3), requires_grad=False)
    views["param_grad"] = torch.nn.Parameter(torch.randn(3))
    torch.save(views, os.path.join(OUT, "views.bin"))
    for k, v in views.items():
        expected[k] = v.detach().contiguous().clone()

    lin = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    sd = lin.state_dict()
    torch.save(sd, os.path.join(OUT, "module.bin"))
    for k, v in sd.items():
        expected["module." + k] = v.contiguous().clone()

    src = zipfile.ZipFile(os.path.join(OUT, "views.bin"))
    write_zip64(os.path.join(OUT, "zip64.bin"), [(i.filename, src.read(i.filename)) for i in src.infolist()])

    shard1 = {"model.a": torch.randn(2, 2), "model.b": torch.randn(3).to(torch.bfloat16)}
    shard2 = {"lm_head.weight": torch.randn(4, 2)}
    names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    weight_map = {}
    for name, shard in zip(names, [shard1, shard2]):
        torch.save(shard, os.path.join(OUT, "sharded", name))
        for k, v in shard.items():
            weight_map[k] = name
            expected["sharded." + k] = v
    with open(os.path.join(OUT, "sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1, sort_keys=True)

    save_file(expected, os.path.join(OUT, "expected.safetensors"))

    # Hostile inputs.
    evil = b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    with zipfile.ZipFile(os.path.join(OUT, "evil_os_system.bin"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", evil)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    torch.save({"w": torch.zeros(2), "x": Evil()}, os.path.join(OUT, "evil_reduce.bin"))
    torch.save({"w": torch.zeros(2)}, os.path.join(OUT, "legacy.bin"), _use_new_zipfile_serialization=False)
    src = zipfile.ZipFile(os.path.join(OUT, "dtypes.bin"))
    with zipfile.ZipFile(os.path.join(OUT, "deflated.bin"), "w", zipfile.ZIP_DEFLATED) as z:
        for i in src.infolist():
            z.writestr(i.filename, src.read(i.filename))

    # Sanity: torch itself reads what we wrote the way we expect.
    back = torch.load(os.path.join(OUT, "zip64.bin"), weights_only=True)
    assert all(torch.equal(back[k].detach(), views[k].detach()) for k in views)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
