//! Media types the store sets on objects. It never sniffs content: originals carry the type their
//! caller named ([`Blob::with_content_type`](crate::Blob::with_content_type)), derived objects the
//! one their spec's extension names.

/// The media type of bytes nobody named.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

/// The media type of a derived object, from its spec's file extension (`thumb/400/300.webp`,
/// `meta.json`), else `application/octet-stream`. The engine names renditions by their output
/// format, so the extension is the truth about the bytes.
pub(crate) fn for_spec(spec: &str) -> &'static str {
    let ext = spec.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "gif" => "image/gif",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => OCTET_STREAM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_types_follow_the_extension() {
        for (spec, mime) in [
            ("thumb/400/300/q/75.webp", "image/webp"),
            ("w/10.jpg", "image/jpeg"),
            ("w/10.jpeg", "image/jpeg"),
            ("w/10.png", "image/png"),
            ("w/10.avif", "image/avif"),
            ("w/10.gif", "image/gif"),
            ("meta.json", "application/json"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("v1/blur/2", OCTET_STREAM),
            ("crop/0.5_0.5/x", OCTET_STREAM),
            ("a.tiff", OCTET_STREAM),
        ] {
            assert_eq!(for_spec(spec), mime, "{spec}");
        }
    }
}
