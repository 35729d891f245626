//! Reading an image's header: format, size, orientation, alpha, embedded ICC profile.
//! Nothing here decodes pixels, so probing costs microseconds whatever the image claims.

use image::metadata::Orientation;

use crate::decoder_errors::{guarded, image_error};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::{Header, ImageInfo, Plays};

/// Parses the header of `bytes`.
pub(crate) fn read_header(bytes: &[u8]) -> Result<Header> {
    let format = ImageFormat::sniff(bytes).ok_or_else(|| {
        if bytes.is_empty() {
            EngineError::Unsupported("empty input".into())
        } else {
            EngineError::Unsupported(
                "not a recognised image (expected JPEG, PNG, WebP, AVIF, GIF, HEIC, JPEG XL, \
                 SVG, TIFF, BMP, ICO or QOI)"
                    .into(),
            )
        }
    })?;
    let header = match format {
        ImageFormat::Jpeg => jpeg_header(bytes),
        ImageFormat::Png => png_header(bytes),
        ImageFormat::Gif => gif_header(bytes),
        ImageFormat::WebP => webp_header(bytes),
        // Third-party parsers: a panic in one is an error of the input (see `guarded`).
        ImageFormat::Avif | ImageFormat::Heic => {
            guarded(format, || crate::heif::header(format, bytes))
        }
        ImageFormat::Jxl => guarded(format, || crate::jxl::header(bytes)),
        ImageFormat::Svg => guarded(format, || crate::svg::header(bytes)),
        ImageFormat::Tiff => guarded(format, || {
            decoder_header(
                format,
                image::codecs::tiff::TiffDecoder::new(std::io::Cursor::new(bytes)),
            )
        }),
        ImageFormat::Bmp => guarded(format, || {
            decoder_header(
                format,
                image::codecs::bmp::BmpDecoder::new(std::io::Cursor::new(bytes)),
            )
        }),
        ImageFormat::Ico => guarded(format, || {
            decoder_header(
                format,
                image::codecs::ico::IcoDecoder::new(std::io::Cursor::new(bytes)),
            )
        }),
        ImageFormat::Qoi => guarded(format, || {
            decoder_header(
                format,
                image::codecs::qoi::QoiDecoder::new(std::io::Cursor::new(bytes)),
            )
        }),
    }?;
    if header.info.width == 0 || header.info.height == 0 {
        return Err(EngineError::corrupt(format!(
            "{format} header declares a zero-sized image"
        )));
    }
    Ok(header)
}

/// The header of an input-only format, as the `image` crate's decoder reads it: the decoder
/// parses the file's header and directory (a TIFF's first IFD, an icon's directory and its
/// largest entry's header) and allocates no pixel buffer until it is asked to decode.
fn decoder_header<D: image::ImageDecoder>(
    format: ImageFormat,
    decoder: image::ImageResult<D>,
) -> Result<Header> {
    let mut decoder = decoder.map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    let color = decoder.color_type();
    let icc_profile = decoder.icc_profile().ok().flatten();
    let orientation = decoder.orientation().map_or(1, exif_value);
    let channels = u16::from(color.channel_count()).max(1);
    Ok(Header {
        info: ImageInfo {
            format,
            width,
            height,
            orientation,
            has_alpha: color.has_alpha(),
            progressive: false,
            has_icc_profile: icc_profile.is_some(),
            frames: 1,
        },
        icc_profile,
        adobe: false,
        coefficient_bytes: 0,
        // Samples wider than 8 bits are decoded through a buffer twice (or four times) the
        // size of the 8-bit bitmap they become.
        sixteen_bit: color.bytes_per_pixel() / channels as u8 > 1,
        stray_ranges: Vec::new(),
        plays: Plays::ONCE,
    })
}

/// The EXIF value (1..=8) of an orientation.
fn exif_value(orientation: Orientation) -> u8 {
    match orientation {
        Orientation::NoTransforms => 1,
        Orientation::FlipHorizontal => 2,
        Orientation::Rotate180 => 3,
        Orientation::FlipVertical => 4,
        Orientation::Rotate90FlipH => 5,
        Orientation::Rotate90 => 6,
        Orientation::Rotate270FlipH => 7,
        Orientation::Rotate270 => 8,
    }
}

fn truncated(format: &str) -> EngineError {
    EngineError::corrupt(format!("{format} header is truncated"))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn exif_orientation(tiff: &[u8]) -> u8 {
    Orientation::from_exif_chunk(tiff).map_or(1, Orientation::to_exif)
}

/// Reassembles a multi-chunk ICC profile (JPEG APP2 / WebP ICCP style) from (seq, data) pairs.
fn join_icc(mut chunks: Vec<(u8, &[u8])>) -> Option<Vec<u8>> {
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|(seq, _)| *seq);
    Some(
        chunks
            .into_iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect(),
    )
}

fn jpeg_header(b: &[u8]) -> Result<Header> {
    let mut pos = 2;
    let mut orientation = 1;
    let mut icc_chunks = Vec::new();
    let mut adobe = false;
    let mut sof: Option<(u32, u32, u8, bool)> = None;
    let mut coefficient_bytes = 0;
    let mut stray_ranges = Vec::new();
    loop {
        // Stray bytes between segments are skipped up to the next 0xFF, as libjpeg does (with
        // a warning; browsers show such files). Markers may be preceded by any number of 0xFF
        // fill bytes.
        let stray_start = pos;
        while *b.get(pos).ok_or_else(|| truncated("JPEG"))? != 0xFF {
            pos += 1;
        }
        if pos > stray_start {
            stray_ranges.push(stray_start..pos);
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *b.get(pos).ok_or_else(|| truncated("JPEG"))?;
        pos += 1;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Err(EngineError::corrupt("JPEG ends before any image data")),
            _ => {}
        }
        let len = usize::from(be16(b, pos).ok_or_else(|| truncated("JPEG"))?);
        if len < 2 {
            return Err(EngineError::corrupt("JPEG segment length is invalid"));
        }
        let seg = b.get(pos + 2..pos + len).ok_or_else(|| truncated("JPEG"))?;
        match marker {
            0xE1 if seg.starts_with(b"Exif\0\0") => orientation = exif_orientation(&seg[6..]),
            0xE2 if seg.starts_with(b"ICC_PROFILE\0") && seg.len() > 14 => {
                icc_chunks.push((seg[12], &seg[14..]));
            }
            0xEE if seg.starts_with(b"Adobe") => adobe = true,
            // SOF markers, excluding DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = be16(seg, 1).ok_or_else(|| truncated("JPEG"))?;
                let width = be16(seg, 3).ok_or_else(|| truncated("JPEG"))?;
                let components = *seg.get(5).ok_or_else(|| truncated("JPEG"))?;
                let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                sof = Some((u32::from(width), u32::from(height), components, progressive));
                coefficient_bytes = jpeg_coefficient_bytes(seg, width, height);
            }
            0xDA => break,
            _ => {}
        }
        pos += len;
    }
    let (width, height, components, progressive) =
        sof.ok_or_else(|| EngineError::corrupt("JPEG has no frame header"))?;
    Ok(Header {
        info: ImageInfo {
            format: ImageFormat::Jpeg,
            width,
            height,
            orientation,
            has_alpha: false,
            progressive,
            has_icc_profile: !icc_chunks.is_empty(),
            frames: 1,
        },
        icc_profile: join_icc(icc_chunks),
        adobe: adobe && components == 4,
        coefficient_bytes,
        sixteen_bit: false,
        stray_ranges,
        plays: Plays::ONCE,
    })
}

/// The size of a JPEG's coefficients from its SOF segment `seg` (after the length): each
/// component's blocks at its sampling factors relative to the largest, 128 bytes per block.
/// Components beyond the segment's end are not counted (the decoder rejects such a file).
fn jpeg_coefficient_bytes(seg: &[u8], width: u16, height: u16) -> u64 {
    let sampling: Vec<(u64, u64)> = seg
        .get(6..)
        .unwrap_or_default()
        .chunks_exact(3)
        .take(usize::from(seg.get(5).copied().unwrap_or(0)))
        .map(|c| (u64::from(c[1] >> 4).max(1), u64::from(c[1] & 0x0f).max(1)))
        .collect();
    let h_max = sampling.iter().map(|s| s.0).max().unwrap_or(1);
    let v_max = sampling.iter().map(|s| s.1).max().unwrap_or(1);
    let (w, h) = (u64::from(width), u64::from(height));
    sampling
        .iter()
        .map(|&(hs, vs)| {
            let blocks_w = (w * hs).div_ceil(h_max).div_ceil(8);
            let blocks_h = (h * vs).div_ceil(v_max).div_ceil(8);
            blocks_w * blocks_h * 128
        })
        .sum()
}

fn png_header(b: &[u8]) -> Result<Header> {
    // Signature (8) + IHDR length (4) + "IHDR" (4) + 13 bytes of data.
    if b.len() < 33 || &b[12..16] != b"IHDR" {
        return Err(truncated("PNG"));
    }
    let width = be32(b, 16).ok_or_else(|| truncated("PNG"))?;
    let height = be32(b, 20).ok_or_else(|| truncated("PNG"))?;
    let color_type = b[25];
    let mut has_alpha = matches!(color_type, 4 | 6);
    let mut orientation = 1;
    let mut has_icc_profile = false;
    // Walk the chunks before the image data for tRNS, eXIf and iCCP.
    let mut pos = 8;
    while let (Some(len), Some(kind)) = (be32(b, pos), b.get(pos + 4..pos + 8)) {
        let data = b.get(pos + 8..(pos + 8).saturating_add(len as usize));
        match kind {
            b"IDAT" | b"IEND" => break,
            b"tRNS" => has_alpha = true,
            b"iCCP" => has_icc_profile = true,
            b"eXIf" => {
                if let Some(d) = data {
                    orientation = exif_orientation(d);
                }
            }
            _ => {}
        }
        pos = pos.saturating_add(12).saturating_add(len as usize);
    }
    Ok(Header {
        info: ImageInfo {
            format: ImageFormat::Png,
            width,
            height,
            orientation,
            has_alpha,
            progressive: false,
            has_icc_profile,
            frames: 1,
        },
        icc_profile: None,
        adobe: false,
        coefficient_bytes: 0,
        sixteen_bit: b[24] == 16,
        stray_ranges: Vec::new(),
        plays: Plays::ONCE,
    })
}

fn gif_header(b: &[u8]) -> Result<Header> {
    let width = le16(b, 6).ok_or_else(|| truncated("GIF"))?;
    let height = le16(b, 8).ok_or_else(|| truncated("GIF"))?;
    let flags = *b.get(10).ok_or_else(|| truncated("GIF"))?;
    let mut pos = 13;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 7) + 1);
    }
    // Walk every block, hopping over the image data without decoding it: the first frame's
    // transparency, the number of frames and the loop count. The walk costs a step per
    // 255-byte sub-block, so the frame limits are checked before any frame is decoded.
    let mut has_alpha = false;
    let mut frames = 0u32;
    let mut plays = Plays::ONCE;
    while let Some(&block) = b.get(pos) {
        match block {
            // An extension: its label, then data sub-blocks.
            0x21 => {
                let label = b.get(pos + 1).copied();
                // A graphic control extension with the transparency flag, before the first image.
                if frames == 0 && label == Some(0xF9) && b.get(pos + 3).is_some_and(|p| p & 1 != 0)
                {
                    has_alpha = true;
                }
                // The NETSCAPE2.0 (or ANIMEXTS1.0) application extension: a sub-block of
                // [1, loop count (LE16)] counting repeats after the first play, 0 = forever.
                let application = b.get(pos + 2..pos + 14);
                if label == Some(0xFF)
                    && (application == Some(b"\x0bNETSCAPE2.0")
                        || application == Some(b"\x0bANIMEXTS1.0"))
                    && b.get(pos + 14..pos + 16) == Some(&[3, 1])
                {
                    if let Some(repeats) = le16(b, pos + 16) {
                        plays = match repeats {
                            0 => Plays::Forever,
                            n => Plays::Times(u32::from(n) + 1),
                        };
                    }
                }
                pos = skip_sub_blocks(b, pos + 2);
            }
            // An image: its descriptor (10 bytes), a local colour table, the LZW code size,
            // then the data sub-blocks.
            0x2C => {
                frames += 1;
                let packed = b.get(pos + 9).copied().unwrap_or(0);
                pos += 10;
                if packed & 0x80 != 0 {
                    pos += 3 << ((packed & 7) + 1);
                }
                pos = skip_sub_blocks(b, pos + 1);
            }
            // The trailer (0x3B), or bytes that are not a block: the decoder stops here too.
            _ => break,
        }
    }
    let mut header = Header::plain(
        ImageFormat::Gif,
        u32::from(width),
        u32::from(height),
        has_alpha,
    );
    header.info.frames = frames.max(1);
    header.plays = plays;
    Ok(header)
}

/// The position after the data sub-blocks starting at `pos` (each a length byte and that many
/// bytes, ended by an empty one), or past the end of `b` when they run off it.
fn skip_sub_blocks(b: &[u8], mut pos: usize) -> usize {
    while let Some(&n) = b.get(pos) {
        pos += 1 + usize::from(n);
        if n == 0 {
            break;
        }
    }
    pos
}

fn webp_header(b: &[u8]) -> Result<Header> {
    let mut pos = 12;
    let mut dims = None;
    let mut has_alpha = false;
    let mut orientation = 1;
    let mut icc = None;
    let mut animated = false;
    let mut frames = 0u32;
    let mut plays = Plays::ONCE;
    while let (Some(kind), Some(len)) = (b.get(pos..pos + 4), le32(b, pos + 4)) {
        let start = pos + 8;
        let data = b
            .get(start..start.saturating_add(len as usize))
            .unwrap_or(&b[start.min(b.len())..]);
        match kind {
            b"VP8X" => {
                let flags = *data.first().ok_or_else(|| truncated("WebP"))?;
                has_alpha = flags & 0x10 != 0;
                animated = flags & 0x02 != 0;
                let w = le24(data, 4).ok_or_else(|| truncated("WebP"))? + 1;
                let h = le24(data, 7).ok_or_else(|| truncated("WebP"))? + 1;
                dims = Some((w, h));
            }
            b"VP8 " => {
                if dims.is_none() {
                    if data.get(3..6) != Some(&[0x9d, 0x01, 0x2a]) {
                        return Err(EngineError::corrupt("WebP VP8 frame header is invalid"));
                    }
                    let w = le16(data, 6).ok_or_else(|| truncated("WebP"))? & 0x3FFF;
                    let h = le16(data, 8).ok_or_else(|| truncated("WebP"))? & 0x3FFF;
                    dims = Some((u32::from(w), u32::from(h)));
                }
                break;
            }
            b"VP8L" => {
                if dims.is_none() {
                    if data.first() != Some(&0x2F) {
                        return Err(EngineError::corrupt("WebP lossless header is invalid"));
                    }
                    let bits = le32(data, 1).ok_or_else(|| truncated("WebP"))?;
                    let w = (bits & 0x3FFF) + 1;
                    let h = ((bits >> 14) & 0x3FFF) + 1;
                    has_alpha = (bits >> 28) & 1 != 0;
                    dims = Some((w, h));
                }
                break;
            }
            b"ICCP" => icc = Some(data.to_vec()),
            b"EXIF" => {
                // Some writers keep the "Exif\0\0" prefix; the TIFF header follows either way.
                let tiff = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
                orientation = exif_orientation(tiff);
            }
            // An animation's parameters: background colour (4 bytes), then the number of plays
            // (LE16, 0 = forever).
            b"ANIM" => {
                if let Some(count) = le16(data, 4) {
                    plays = match count {
                        0 => Plays::Forever,
                        n => Plays::Times(u32::from(n)),
                    };
                }
            }
            // A frame: counted, its image data (inside the chunk) skipped. Frames are only
            // counted in a file that the VP8X header says is animated.
            b"ANMF" if animated => frames += 1,
            _ => {}
        }
        // Chunks are padded to an even size.
        pos = start
            .saturating_add(len as usize)
            .saturating_add(len as usize & 1);
    }
    let (width, height) = dims.ok_or_else(|| truncated("WebP"))?;
    Ok(Header {
        info: ImageInfo {
            format: ImageFormat::WebP,
            width,
            height,
            orientation,
            has_alpha,
            progressive: false,
            has_icc_profile: icc.is_some(),
            frames: frames.max(1),
        },
        icc_profile: icc,
        adobe: false,
        coefficient_bytes: 0,
        sixteen_bit: false,
        stray_ranges: Vec::new(),
        plays,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficient_bytes_follow_the_sampling_factors() {
        // SOF body for 100x60: precision 8, height, width, 3 components.
        let sof = |sampling: [u8; 3]| {
            let mut seg = vec![8, 0, 60, 0, 100, 3];
            for (id, s) in sampling.into_iter().enumerate() {
                seg.extend([id as u8 + 1, s, 0]);
            }
            seg
        };
        // 4:2:0: luma 13x8 blocks, each chroma 7x4 (50x30 samples).
        assert_eq!(
            jpeg_coefficient_bytes(&sof([0x22, 0x11, 0x11]), 100, 60),
            (13 * 8 + 2 * 7 * 4) * 128
        );
        // 4:4:4: three 13x8 planes.
        assert_eq!(
            jpeg_coefficient_bytes(&sof([0x11, 0x11, 0x11]), 100, 60),
            3 * 13 * 8 * 128
        );
        // A truncated segment counts what it holds and never panics.
        assert_eq!(
            jpeg_coefficient_bytes(&sof([0x11, 0x11, 0x11])[..9], 100, 60),
            13 * 8 * 128
        );
        assert_eq!(jpeg_coefficient_bytes(&[], 100, 60), 0);
    }
}
