//! Content-type sniffing from magic bytes, for the `Content-Type` set on uploaded objects.

/// The MIME type of an image from its first bytes: JPEG, PNG, GIF, WebP or AVIF, else
/// `application/octet-stream`. 32 bytes are enough.
pub fn content_type(head: &[u8]) -> &'static str {
    if head.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        "image/gif"
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        "image/webp"
    } else if is_avif(head) {
        "image/avif"
    } else {
        "application/octet-stream"
    }
}

/// An ISO-BMFF `ftyp` box whose major brand, or a compatible brand within `head`, is AVIF.
fn is_avif(head: &[u8]) -> bool {
    if head.len() < 12 || &head[4..8] != b"ftyp" {
        return false;
    }
    let is_avif_brand = |b: &[u8]| b == b"avif" || b == b"avis";
    if is_avif_brand(&head[8..12]) {
        return true;
    }
    let box_len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = box_len.min(head.len());
    // Compatible brands follow the major brand and the minor version.
    head.get(16..end)
        .is_some_and(|brands| brands.chunks_exact(4).any(is_avif_brand))
}

/// The MIME type for a derived object: sniffed from its bytes, else guessed from the spec's
/// extension (`.json`, `.txt`), else `application/octet-stream`.
pub fn derived_content_type(spec: &str, head: &[u8]) -> &'static str {
    match content_type(head) {
        "application/octet-stream" => {}
        sniffed => return sniffed,
    }
    match spec.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_image_formats() {
        assert_eq!(
            content_type(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
            "image/jpeg"
        );
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(content_type(b"GIF89a\x01\0\x01\0"), "image/gif");
        assert_eq!(content_type(b"RIFF\x24\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(
            content_type(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            "image/avif"
        );
        assert_eq!(
            content_type(b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf"),
            "image/avif"
        );
        assert_eq!(
            content_type(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            "application/octet-stream"
        );
        assert_eq!(content_type(b"hello"), "application/octet-stream");
        assert_eq!(content_type(b""), "application/octet-stream");
        assert_eq!(derived_content_type("meta.json", b"{}"), "application/json");
        assert_eq!(
            derived_content_type("w/10.png", b"\x89PNG\r\n\x1a\n"),
            "image/png"
        );
    }
}
