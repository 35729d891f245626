"""Builds Origami URLs, signed when a key is given, and `srcset` attributes (standard library
only; Python 3.8 or later).

    from origami_url import image_url, srcset
    image_url(hash, "thumb/400/300", fmt="webp", key=KEY, base="https://cdn.example")
    srcset(hash, [320, 640, 1280], fmt="webp", key=KEY, base="https://cdn.example")

The signature is the first 32 characters of the unpadded base64url HMAC-SHA256 of the path
after `/s/{signature}` (for example `/thumb/400/300/<hash>.webp`), under the key's bytes (the
`[security] signing_keys` entry, hex-decoded).
"""
import base64
import hashlib
import hmac

SIGNATURE_LEN = 32


def sign(path, hex_key):
    """The signature of `path` (starting with `/`) under the hex key `hex_key`."""
    mac = hmac.new(bytes.fromhex(hex_key), path.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:SIGNATURE_LEN]


def image_path(hash, ops="", fmt=None, key=None):
    """`/{ops}/{hash}[.{fmt}]`, prefixed with `/s/{signature}` when `key` is given."""
    steps = ops.strip("/")
    path = (f"/{steps}" if steps else "") + f"/{hash}" + (f".{fmt}" if fmt else "")
    return f"/s/{sign(path, key)}{path}" if key else path


def image_url(hash, ops="", fmt=None, key=None, base=""):
    """`base` + `image_path(...)`."""
    return base.rstrip("/") + image_path(hash, ops, fmt, key)


def srcset(hash, widths, ops="fit/{w}/0", fmt=None, key=None, base=""):
    """A `srcset` value: one URL per width, `ops` with `{w}` for the width."""
    return ", ".join(
        f"{image_url(hash, ops.replace('{w}', str(w)), fmt, key, base)} {w}w" for w in widths
    )


if __name__ == "__main__":
    import sys

    # python3 origami_url.py HASH OPS FORMAT [HEX_KEY]: prints the path (used by the tests).
    hash_, ops, fmt = sys.argv[1:4]
    print(image_path(hash_, ops, fmt or None, sys.argv[4] if len(sys.argv) > 4 else None))
