"""Writes the seed corpus of SafetensorsFuzzTest (Jazzer's layout: <TestClass>Inputs/<method>/); outputs are committed.

    python3 make_fuzz_seeds.py

Plain Python (struct + json), no other packages. Most seeds are small valid files covering every dtype, metadata,
scalars and empty tensors; a few are near-misses (one field wrong) so the fuzzer starts next to each check.
"""
import json
import os
import struct

OUT = os.path.join("SafetensorsFuzzTestInputs", "fuzzRead")


def image(entries, data, metadata=None, pad=True, header_text=None):
    """entries: list of (name, dtype, shape, begin, end); returns the file bytes."""
    if header_text is None:
        header = {}
        if metadata is not None:
            header["__metadata__"] = metadata
        for name, dtype, shape, begin, end in entries:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
        header_text = json.dumps(header, separators=(",", ":"))
    raw = header_text.encode("utf-8")
    if pad:
        raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


seeds = {
    "valid_f32_matrix": image([("w", "F32", [2, 3], 0, 24)], f32(1, 2, 3, 4, 5, 6)),
    "valid_metadata": image([("bias", "F32", [2], 0, 8)], f32(0.5, -0.5), {"format": "pt", "step": "10"}),
    "valid_empty_file": image([], b""),
    "valid_metadata_only": image([], b"", {"k": "v"}),
    "valid_scalar_and_empty": image([("s", "F32", [], 0, 4), ("e", "F32", [0, 3], 4, 4)], f32(7)),
    "valid_f16_bf16": image([("h", "F16", [3], 0, 6), ("b", "BF16", [2], 6, 10)],
                            struct.pack("<3H", 0x3C00, 0xC100, 0x7C00) + struct.pack("<2H", 0x3F80, 0xFF80)),
    "valid_ints": image([("l", "I64", [2], 0, 16), ("i", "I32", [1], 16, 20), ("s", "I16", [1], 20, 22),
                         ("c", "I8", [1], 22, 23), ("u", "U8", [1], 23, 24), ("m", "BOOL", [1], 24, 25)],
                        struct.pack("<2qih", 5, -6, 7, -8) + bytes([0xF8, 200, 1])),
    "valid_unsigned_f64": image([("d", "F64", [1], 0, 8), ("q", "U64", [1], 8, 16), ("w", "U32", [1], 16, 20),
                                 ("h", "U16", [1], 20, 22)],
                                struct.pack("<dQIH", 0.1, 9, 10, 11)),
    "valid_header_order_differs": image([("second", "F32", [1], 4, 8), ("first", "F32", [1], 0, 4)], f32(1, 2)),
    "valid_unpadded": image([("x", "F32", [1], 0, 4)], f32(3), pad=False),
    "bad_dtype": image([("x", "F99", [1], 0, 4)], f32(1)),
    "bad_gap": image([("a", "F32", [1], 0, 4), ("b", "F32", [1], 8, 12)], f32(1, 2, 3)),
    "bad_overlap": image([("a", "F32", [2], 0, 8), ("b", "F32", [1], 4, 8)], f32(1, 2)),
    "bad_trailing": image([("a", "F32", [1], 0, 4)], f32(1, 2)),
    "bad_count": image([("a", "F32", [3], 0, 8)], f32(1, 2)),
    "bad_duplicate": image([], f32(1), header_text='{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                   '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    "bad_metadata_type": image([], b"", header_text='{"__metadata__":{"k":1}}'),
    "bad_i64_range": image([("l", "I64", [1], 0, 8)], struct.pack("<q", 1 << 40)),
    "bad_header_length": struct.pack("<Q", 1 << 40) + b"{}      ",
    "bad_short": b"\x08\x00\x00",
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(len(seeds), "seeds in", OUT)
