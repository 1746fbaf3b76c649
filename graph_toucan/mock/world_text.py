"""Text utilities of the simulated world: base64, URL and hex encodings, SHA-256, SHA-1 and MD5,
JSON checks, counts. Plain Python (the sandbox has no ``hashlib`` or ``base64``), embedded in
generated mocks by :func:`graph_toucan.mock.world.embedded_source` like the rest of the world.

>>> b64encode("hello"), sha256_hex("abc")[:16], md5_hex("")
('aGVsbG8=', 'ba7816bf8f01cfea', 'd41d8cd98f00b204e9800998ecf8427e')
"""

import json
import math
import re

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def utf8(text):
    return list(str(text).encode("utf-8"))


def b64encode(text):
    data = utf8(text)
    out = []
    for i in range(0, len(data), 3):
        chunk = data[i : i + 3]
        number = int.from_bytes(bytes(chunk + [0] * (3 - len(chunk))), "big")
        chars = [B64[(number >> shift) & 63] for shift in (18, 12, 6, 0)]
        out.append("".join(chars[: len(chunk) + 1]) + "=" * (3 - len(chunk)))
    return "".join(out)


def b64decode(text):
    clean = re.sub(r"\s+", "", str(text)).rstrip("=")
    clean = clean.replace("-", "+").replace("_", "/")
    if any(c not in B64 for c in clean) or len(clean) % 4 == 1:
        raise ValueError("the text is not valid base64")
    data = []
    for i in range(0, len(clean), 4):
        chunk = clean[i : i + 4]
        number = 0
        for c in chunk.ljust(4, "A"):
            number = number * 64 + B64.index(c)
        data.extend(number.to_bytes(3, "big")[: len(chunk) - 1])
    try:
        return bytes(data).decode("utf-8")
    except UnicodeError:
        raise ValueError("the decoded bytes are not UTF-8 text") from None


def url_encode(text):
    safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if chr(b) in safe else f"%{b:02X}" for b in utf8(text))


def url_decode(text):
    value = str(text).replace("+", " ")
    data = []
    i = 0
    while i < len(value):
        if value[i] == "%" and re.match(r"^[0-9A-Fa-f]{2}$", value[i + 1 : i + 3]):
            data.append(int(value[i + 1 : i + 3], 16))
            i += 3
        else:
            data.extend(utf8(value[i]))
            i += 1
    return bytes(data).decode("utf-8", "replace")


def hex_encode(text):
    return "".join(f"{b:02x}" for b in utf8(text))


def rotl(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def rotr(x, n):
    return ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF


SHA256_K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
]  # fmt: skip


def padded(data, little):
    length = (len(data) * 8).to_bytes(8, "little" if little else "big")
    data = data + [0x80] + [0] * ((55 - len(data)) % 64)
    return data + list(length)


def sha256_hex(text):
    h = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
    data = padded(utf8(text), False)
    for start in range(0, len(data), 64):
        w = [int.from_bytes(bytes(data[start + 4 * i : start + 4 * i + 4]), "big") for i in range(16)]
        for i in range(16, 64):
            s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xFFFFFFFF)
        a, b, c, d, e, f, g, k = h
        for i in range(64):
            t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[i]
            t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
            a, b, c, d, e, f, g, k = (t1 + t2) & 0xFFFFFFFF, a, b, c, (d + t1) & 0xFFFFFFFF, e, f, g
        h = [(x + y) & 0xFFFFFFFF for x, y in zip(h, [a, b, c, d, e, f, g, k], strict=True)]
    return "".join(f"{x:08x}" for x in h)


def sha1_hex(text):
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    data = padded(utf8(text), False)
    for start in range(0, len(data), 64):
        w = [int.from_bytes(bytes(data[start + 4 * i : start + 4 * i + 4]), "big") for i in range(16)]
        for i in range(16, 80):
            w.append(rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
        a, b, c, d, e = h
        for i in range(80):
            if i < 20:
                f, k = (b & c) | (~b & d), 0x5A827999
            elif i < 40:
                f, k = b ^ c ^ d, 0x6ED9EBA1
            elif i < 60:
                f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
            else:
                f, k = b ^ c ^ d, 0xCA62C1D6
            a, b, c, d, e = (rotl(a, 5) + f + e + k + w[i]) & 0xFFFFFFFF, a, rotl(b, 30), c, d
        h = [(x + y) & 0xFFFFFFFF for x, y in zip(h, [a, b, c, d, e], strict=True)]
    return "".join(f"{x:08x}" for x in h)


MD5_SHIFTS = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4


def md5_hex(text):
    k = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    data = padded(utf8(text), True)
    for start in range(0, len(data), 64):
        m = [int.from_bytes(bytes(data[start + 4 * i : start + 4 * i + 4]), "little") for i in range(16)]
        a, b, c, d = h
        for i in range(64):
            if i < 16:
                f, g = (b & c) | (~b & d), i
            elif i < 32:
                f, g = (d & b) | (~d & c), (5 * i + 1) % 16
            elif i < 48:
                f, g = b ^ c ^ d, (3 * i + 5) % 16
            else:
                f, g = c ^ (b | ~d & 0xFFFFFFFF), (7 * i) % 16
            f = (f + a + k[i] + m[g]) & 0xFFFFFFFF
            a, d, c = d, c, b
            b = (b + rotl(f, MD5_SHIFTS[i])) & 0xFFFFFFFF
        h = [(x + y) & 0xFFFFFFFF for x, y in zip(h, [a, b, c, d], strict=True)]
    return "".join(x.to_bytes(4, "little").hex() for x in h)


def word_count(text):
    return len(re.findall(r"\S+", str(text)))


def slugify(text):
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def hash_text(text, algorithm):
    name = str(algorithm).lower().replace("-", "").replace("_", "")
    if name in ("sha256", "sha2"):
        return sha256_hex(text)
    if name == "sha1":
        return sha1_hex(text)
    if name == "md5":
        return md5_hex(text)
    raise ValueError(f"unsupported hash algorithm {algorithm!r}; use sha256, sha1 or md5")


def json_value(text):
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"the text is not valid JSON: {error}") from None


def json_valid(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
