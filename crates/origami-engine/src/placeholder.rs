//! ThumbHash placeholders: made from an image, and drawn back as a small PNG.

use crate::bitmap::{Bitmap, Channels};
use crate::decode::{self, Source};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::limits::Limits;
use crate::{encode, resize};

/// A ThumbHash placeholder and the size of the image it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbHash {
    /// The ThumbHash bytes (base64 them for JSON or HTML).
    pub hash: Vec<u8>,
    /// Width of the upright source image.
    pub width: u32,
    /// Height of the upright source image.
    pub height: u32,
}

/// Computes the ThumbHash of an image (decoded at the smallest useful scale), after checking
/// it against `limits` as [`transform`](crate::transform) does.
pub fn thumbhash(input: &[u8], limits: &Limits) -> Result<ThumbHash> {
    let source = Source::new(input, limits)?;
    let (ow, oh) = source.header().info.oriented_dimensions();
    // ThumbHash works on at most 100x100 pixels.
    let small = resize::fit_size(ow, oh, 100, 100);
    let bitmap = decode::decode(&source, Some(small), limits)?;
    thumbhash_of(&bitmap, (ow, oh))
}

/// The ThumbHash of `bitmap`, an upright rendition of an image of `original` pixels.
pub(crate) fn thumbhash_of(bitmap: &Bitmap, original: (u32, u32)) -> Result<ThumbHash> {
    let bitmap = resize::fit(bitmap, 100, 100)?.into_rgba();
    let hash = ::thumbhash::rgba_to_thumb_hash(
        bitmap.width() as usize,
        bitmap.height() as usize,
        bitmap.data(),
    );
    Ok(ThumbHash {
        hash,
        width: original.0,
        height: original.1,
    })
}

/// Draws a ThumbHash as a small PNG (at most 32 pixels a side, as the format defines).
pub fn render_thumbhash(hash: &[u8]) -> Result<Vec<u8>> {
    let invalid = || EngineError::invalid("not a valid ThumbHash");
    // The decoder reads 5 header bytes unconditionally.
    if hash.len() < 5 {
        return Err(invalid());
    }
    let (w, h, rgba) = ::thumbhash::thumb_hash_to_rgba(hash).map_err(|()| invalid())?;
    let bitmap = Bitmap::new(w as u32, h as u32, Channels::Rgba, rgba).map_err(|_| invalid())?;
    encode::encode(
        bitmap,
        ImageFormat::Png,
        None,
        crate::ops::DEFAULT_BACKGROUND,
        &Limits::default(),
    )
}
