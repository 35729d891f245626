//! The `nclx` colour of a HEIF/AVIF file's primary item, read from its boxes: libheif 1.15's
//! own query (`heif_image_handle_get_nclx_color_profile`) leaks 52 bytes a call inside the
//! library (found by LeakSanitizer while fuzzing), so the engine reads the four bytes it needs
//! itself.

/// The boxes of `bytes`, in order: (type, body). Stops at the first box that does not fit.
fn boxes(bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, rest.len()),
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            n => (8, n),
        };
        let body = rest.get(header..size)?;
        rest = &rest[size..];
        Some((kind, body))
    })
}

/// The body of the first `kind` box in `bytes`.
fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(bytes).find(|(k, _)| k == kind).map(|(_, body)| body)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The colour primaries and transfer characteristics the primary item's `nclx` colour box
/// names, if it has one.
pub(crate) fn primary_nclx(bytes: &[u8]) -> Option<(u16, u16)> {
    // `meta` is a full box: version and flags, then its children.
    let meta = child(bytes, b"meta")?.get(4..)?;
    let pitm = child(meta, b"pitm")?;
    let primary = match pitm.first()? {
        0 => u32::from(be16(pitm, 4)?),
        _ => be32(pitm, 4)?,
    };
    let iprp = child(meta, b"iprp")?;
    let properties: Vec<([u8; 4], &[u8])> = boxes(child(iprp, b"ipco")?).collect();
    let ipma = child(iprp, b"ipma")?;
    let (version, wide_index) = (*ipma.first()?, ipma.get(3)? & 1 != 0);
    let mut pos = 8;
    for _ in 0..be32(ipma, 4)? {
        let item = if version < 1 {
            let id = u32::from(be16(ipma, pos)?);
            pos += 2;
            id
        } else {
            let id = be32(ipma, pos)?;
            pos += 4;
            id
        };
        let count = usize::from(*ipma.get(pos)?);
        pos += 1;
        for _ in 0..count {
            // The top bit marks an essential property; the rest is a 1-based index.
            let index = if wide_index {
                let v = be16(ipma, pos)? & 0x7FFF;
                pos += 2;
                usize::from(v)
            } else {
                let v = ipma.get(pos)? & 0x7F;
                pos += 1;
                usize::from(v)
            };
            if item != primary || index == 0 {
                continue;
            }
            let (kind, body) = properties.get(index - 1)?;
            if kind == b"colr" && body.starts_with(b"nclx") {
                return Some((be16(body, 4)?, be16(body, 6)?));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/inputs/");
        std::fs::read(format!("{path}{name}")).expect("fixture")
    }

    #[test]
    fn the_primary_items_nclx_is_read_from_the_boxes() {
        // Patched to primaries 12 (Display P3) and transfer 13 (sRGB), see fixtures/README.md.
        assert_eq!(
            primary_nclx(&fixture("display-p3-nclx.avif")),
            Some((12, 13))
        );
        // The input on which libheif's own query leaked (fuzzing): primaries 256, no such
        // code point (taken as sRGB), transfer sRGB.
        assert_eq!(primary_nclx(&fixture("nclx-fuzzed.avif")), Some((256, 13)));
        // An ICC-tagged HEIC has no nclx box.
        assert_eq!(primary_nclx(&fixture("icc-adobergb.heic")), None);
        // Cut anywhere or damaged: an answer or none, never a panic.
        let bytes = fixture("display-p3-nclx.avif");
        for cut in 0..bytes.len().min(2000) {
            let _ = primary_nclx(&bytes[..cut]);
        }
        for at in 0..bytes.len().min(2000) {
            let mut damaged = bytes.clone();
            damaged[at] = 0xFF;
            let _ = primary_nclx(&damaged);
        }
    }
}
