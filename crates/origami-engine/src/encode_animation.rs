//! Encoding animations: GIF through the `gif` crate, WebP through libwebp's animation encoder
//! (`WebPAnimEncoder`, which stores each frame as the smallest rectangle that changed). Frames
//! arrive one at a time and are encoded as they come, so an animation's decoded frames are
//! never all in memory at once.

use std::ptr::NonNull;

use libwebp_sys as webp_sys;

use crate::bitmap::Bitmap;
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::Plays;

fn failed(format: ImageFormat, e: impl std::fmt::Display) -> EngineError {
    EngineError::internal(format!("animated {format} encoding failed: {e}"))
}

/// An animation being written, frame by frame, every frame the same size.
pub(crate) struct AnimationEncoder {
    kind: Kind,
    size: (u32, u32),
}

enum Kind {
    Gif(gif::Encoder<Vec<u8>>),
    WebP(WebPAnimation),
}

impl AnimationEncoder {
    /// Starts a `format` animation (GIF or WebP) of `size` frames that plays `plays` times;
    /// `quality` as for still images (WebP at 100 is lossless).
    pub(crate) fn new(
        format: ImageFormat,
        size: (u32, u32),
        quality: Option<u8>,
        plays: Plays,
    ) -> Result<Self> {
        let quality = quality
            .or(format.default_quality())
            .unwrap_or(100)
            .clamp(1, 100);
        let kind = match format {
            ImageFormat::Gif => {
                let (w, h) = gif_size(size)?;
                let mut encoder =
                    gif::Encoder::new(Vec::new(), w, h, &[]).map_err(|e| failed(format, e))?;
                // A GIF's loop count is the number of repeats after the first play, and a GIF
                // without one plays once.
                let repeat = match plays {
                    Plays::Forever => Some(gif::Repeat::Infinite),
                    Plays::Times(1) => None,
                    Plays::Times(n) => Some(gif::Repeat::Finite(
                        u16::try_from(n - 1).unwrap_or(u16::MAX),
                    )),
                };
                if let Some(repeat) = repeat {
                    encoder.set_repeat(repeat).map_err(|e| failed(format, e))?;
                }
                Kind::Gif(encoder)
            }
            ImageFormat::WebP => Kind::WebP(WebPAnimation::new(size, quality, plays)?),
            other => {
                return Err(EngineError::internal(format!(
                    "{other} does not keep animations"
                )))
            }
        };
        Ok(Self { kind, size })
    }

    /// The frames' size.
    pub(crate) fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Adds `frame`, shown for `delay_ms` milliseconds.
    pub(crate) fn add(&mut self, frame: Bitmap, delay_ms: u32) -> Result<()> {
        if (frame.width(), frame.height()) != self.size {
            return Err(EngineError::internal(
                "an animation's frames came out of the pipeline at different sizes",
            ));
        }
        match &mut self.kind {
            Kind::Gif(encoder) => {
                let (w, h) = gif_size(self.size)?;
                let mut rgba = frame.into_rgba().into_data();
                // NeuQuant speed 10, as for still GIFs; one palette per frame.
                let mut gif_frame = gif::Frame::from_rgba_speed(w, h, &mut rgba, 10);
                // GIF delays are in hundredths of a second.
                gif_frame.delay =
                    u16::try_from(delay_ms.saturating_add(5) / 10).unwrap_or(u16::MAX);
                // Every frame is the whole composited canvas: clearing it after it is shown
                // keeps its transparent pixels from showing the frame before.
                gif_frame.dispose = gif::DisposalMethod::Background;
                encoder
                    .write_frame(&gif_frame)
                    .map_err(|e| failed(ImageFormat::Gif, e))
            }
            Kind::WebP(animation) => animation.add(&frame.into_rgba(), delay_ms),
        }
    }

    /// The encoded animation.
    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        match self.kind {
            Kind::Gif(encoder) => encoder
                .into_inner()
                .map_err(|e| failed(ImageFormat::Gif, e)),
            Kind::WebP(animation) => animation.finish(),
        }
    }
}

fn gif_size((width, height): (u32, u32)) -> Result<(u16, u16)> {
    match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(EngineError::TooLarge(
            "GIF images are limited to 65535 pixels a side".into(),
        )),
    }
}

/// libwebp's `WebPAnimEncoder`, owned: deleted on drop. (The `webp` crate's wrapper gives the
/// last frame a 1 ms duration, so the engine drives libwebp itself.)
struct WebPAnimation {
    encoder: NonNull<webp_sys::WebPAnimEncoder>,
    config: webp_sys::WebPConfig,
    /// When the next frame starts, in milliseconds from the first.
    timestamp_ms: i32,
}

impl WebPAnimation {
    fn new((width, height): (u32, u32), quality: u8, plays: Plays) -> Result<Self> {
        let err = |e: &str| failed(ImageFormat::WebP, e);
        if width > 16383 || height > 16383 {
            return Err(EngineError::TooLarge(
                "WebP images are limited to 16383 pixels a side".into(),
            ));
        }
        let mut config = webp_sys::WebPConfig::new().map_err(|()| err("bad configuration"))?;
        let lossless = quality == 100;
        config.lossless = i32::from(lossless);
        config.quality = if lossless { 75.0 } else { f32::from(quality) };
        config.alpha_compression = i32::from(!lossless);
        let mut options = std::mem::MaybeUninit::<webp_sys::WebPAnimEncoderOptions>::uninit();
        let abi = webp_sys::WebPGetMuxABIVersion();
        // SAFETY: the init function fills in every field of the options it is given.
        let mut options = unsafe {
            if webp_sys::WebPAnimEncoderOptionsInitInternal(options.as_mut_ptr(), abi) == 0 {
                return Err(err(
                    "libwebp's mux library is not the version it was built with",
                ));
            }
            options.assume_init()
        };
        // A WebP's loop count is its number of plays, 0 for forever.
        options.anim_params.loop_count = match plays {
            Plays::Forever => 0,
            Plays::Times(n) => i32::try_from(n.min(65535)).unwrap_or(65535),
        };
        // A transparent canvas behind the frames.
        options.anim_params.bgcolor = 0;
        // SAFETY: the sizes are checked above and the options are initialised; a null result
        // (out of memory) is handled.
        let encoder = unsafe {
            webp_sys::WebPAnimEncoderNewInternal(width as i32, height as i32, &options, abi)
        };
        let encoder = NonNull::new(encoder).ok_or_else(|| err("out of memory"))?;
        Ok(Self {
            encoder,
            config,
            timestamp_ms: 0,
        })
    }

    fn add(&mut self, frame: &Bitmap, delay_ms: u32) -> Result<()> {
        let err = |e: String| failed(ImageFormat::WebP, e);
        let mut picture = webp_sys::WebPPicture::new().map_err(|()| err("bad picture".into()))?;
        picture.use_argb = 1;
        picture.width = frame.width() as i32;
        picture.height = frame.height() as i32;
        let stride = i32::try_from(frame.stride()).map_err(|_| err("frame too wide".into()))?;
        // SAFETY: `frame` is RGBA with `stride` bytes a row for `height` rows; the import copies
        // it into a buffer the picture owns, which is freed below whatever the outcome.
        let added = unsafe {
            let imported =
                webp_sys::WebPPictureImportRGBA(&mut picture, frame.data().as_ptr(), stride);
            let added = imported != 0
                && webp_sys::WebPAnimEncoderAdd(
                    self.encoder.as_ptr(),
                    &mut picture,
                    self.timestamp_ms,
                    &self.config,
                ) != 0;
            let error = picture.error_code;
            webp_sys::WebPPictureFree(&mut picture);
            if added {
                Ok(())
            } else {
                Err(err(format!("{error:?}")))
            }
        };
        self.timestamp_ms = self
            .timestamp_ms
            .saturating_add(i32::try_from(delay_ms).unwrap_or(i32::MAX));
        added
    }

    fn finish(self) -> Result<Vec<u8>> {
        let err = |e: &str| failed(ImageFormat::WebP, e);
        let mut data = webp_sys::WebPData::default();
        // SAFETY: the encoder is live (deleted only on drop); a null frame ends the animation
        // at the given timestamp, which sets the last frame's duration. The assembled data is
        // copied out and freed with libwebp's own allocator.
        unsafe {
            let encoder = self.encoder.as_ptr();
            if webp_sys::WebPAnimEncoderAdd(
                encoder,
                std::ptr::null_mut(),
                self.timestamp_ms,
                std::ptr::null(),
            ) == 0
                || webp_sys::WebPAnimEncoderAssemble(encoder, &mut data) == 0
            {
                let message = webp_sys::WebPAnimEncoderGetError(encoder);
                let message = if message.is_null() {
                    "unknown error".to_owned()
                } else {
                    std::ffi::CStr::from_ptr(message)
                        .to_string_lossy()
                        .into_owned()
                };
                return Err(err(&message));
            }
            let bytes = std::slice::from_raw_parts(data.bytes, data.size).to_vec();
            webp_sys::WebPDataClear(&mut data);
            Ok(bytes)
        }
    }
}

impl Drop for WebPAnimation {
    fn drop(&mut self) {
        // SAFETY: the encoder was made by WebPAnimEncoderNewInternal and is deleted once.
        unsafe { webp_sys::WebPAnimEncoderDelete(self.encoder.as_ptr()) }
    }
}
