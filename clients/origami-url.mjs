// Builds Origami URLs, signed when a key is given, and `srcset` attributes. No dependencies:
// browsers (Web Crypto) and Node 18 or later. Keep signing keys on servers: a key in a browser
// lets anyone sign any URL (in the browser, build unsigned URLs or ask your backend).
//
//   import { imageUrl, srcset } from './origami-url.mjs';
//   await imageUrl({ base: 'https://cdn.example', hash, ops: 'thumb/400/300', format: 'webp', key });
//   await srcset({ base, hash, widths: [320, 640, 1280], format: 'webp', key });
//
// The signature is the first 32 characters of the unpadded base64url HMAC-SHA256 of the path
// after `/s/{signature}` (for example `/thumb/400/300/<hash>.webp`), under the key's bytes (the
// `[security] signing_keys` entry, hex-decoded).

async function subtle() {
  if (globalThis.crypto && globalThis.crypto.subtle) return globalThis.crypto.subtle;
  return (await import('node:crypto')).webcrypto.subtle; // Node 18
}

function hexBytes(hex) {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('a signing key is an even number of hex digits');
  return new Uint8Array(hex.match(/../g).map((pair) => parseInt(pair, 16)));
}

function base64url(bytes) {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The signature of `path` (starting with `/`) under the hex key `hexKey`. */
export async function sign(path, hexKey) {
  const crypto = await subtle();
  const key = await crypto.importKey('raw', hexBytes(hexKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.sign('HMAC', key, new TextEncoder().encode(path)));
  return base64url(mac).slice(0, 32);
}

/** `/{ops}/{hash}[.{format}]`, prefixed with `/s/{signature}` when `key` is given. */
export async function imagePath({ hash, ops = '', format, key }) {
  const steps = ops.replace(/^\/+|\/+$/g, '');
  const path = `${steps ? `/${steps}` : ''}/${hash}${format ? `.${format}` : ''}`;
  return key ? `/s/${await sign(path, key)}${path}` : path;
}

/** `base` + [`imagePath`]. */
export async function imageUrl({ base = '', ...rest }) {
  return base.replace(/\/+$/, '') + (await imagePath(rest));
}

/** A `srcset` value: one URL per width, `ops` with `{w}` for the width (default `fit/{w}/0`). */
export async function srcset({ base = '', hash, widths, ops = 'fit/{w}/0', format, key }) {
  const items = [];
  for (const w of widths) {
    items.push(`${await imageUrl({ base, hash, ops: ops.replaceAll('{w}', String(w)), format, key })} ${w}w`);
  }
  return items.join(', ');
}
