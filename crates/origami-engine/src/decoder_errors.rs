//! The errors of the decoders the engine wraps, as the engine's: the `image` crate's error
//! classes, and a panic inside a third-party decoder.

use image::ImageError;

use crate::error::{EngineError, Result};
use crate::format::ImageFormat;

/// Runs a third-party decoder, turning a panic inside it into an error of the input: some
/// decoders assert on layouts they do not handle (the `tiff` crate on a tiled planar file)
/// instead of returning an error, and a file must never cost more than a 4xx. The decoders
/// own their state, so nothing is left half-changed by the unwinding.
pub(crate) fn guarded<T>(format: ImageFormat, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        Err(EngineError::Unsupported(format!(
            "{format}: the decoder cannot read this file's layout"
        )))
    })
}

/// An `image` crate error as the engine's error class.
pub(crate) fn image_error(err: ImageError) -> EngineError {
    match err {
        ImageError::Limits(e) => EngineError::TooLarge(e.to_string()),
        ImageError::Unsupported(e) => EngineError::Unsupported(e.to_string()),
        other => EngineError::corrupt(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_decoder_is_an_unsupported_input() {
        // Found over Pillow's test images: the `tiff` crate asserts on a tiled planar file.
        let refused: Result<()> = guarded(ImageFormat::Tiff, || panic!("assertion failed"));
        assert!(
            matches!(&refused, Err(EngineError::Unsupported(m)) if m.contains("tiff")),
            "{refused:?}"
        );
        assert_eq!(guarded(ImageFormat::Tiff, || Ok(7)).unwrap(), 7);
    }
}
