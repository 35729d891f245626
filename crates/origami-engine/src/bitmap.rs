//! The engine's in-memory pixel buffer: 8-bit sRGB, interleaved RGB or RGBA.

use crate::error::{EngineError, Result};

/// Channel layout of a [`Bitmap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// 3 bytes per pixel: R, G, B.
    Rgb,
    /// 4 bytes per pixel: R, G, B, A (straight, not premultiplied).
    Rgba,
}

impl Channels {
    /// Bytes per pixel.
    pub fn count(self) -> usize {
        match self {
            Channels::Rgb => 3,
            Channels::Rgba => 4,
        }
    }
}

/// A decoded image: `width * height` pixels of 8-bit sRGB in `channels` layout, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: u32,
    height: u32,
    channels: Channels,
    data: Vec<u8>,
}

impl Bitmap {
    /// Wraps a pixel buffer; fails unless `data.len() == width * height * channels`.
    pub fn new(width: u32, height: u32, channels: Channels, data: Vec<u8>) -> Result<Self> {
        let expected = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(channels.count()));
        if width == 0 || height == 0 || expected != Some(data.len()) {
            return Err(EngineError::corrupt(format!(
                "pixel buffer of {} bytes does not match {width}x{height}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            channels,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Channel layout.
    pub fn channels(&self) -> Channels {
        self.channels
    }

    /// The packed pixel bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Mutable access to the packed pixel bytes.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Consumes the bitmap, returning its bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width as usize * self.channels.count()
    }

    /// The pixel at (x, y) as RGBA (alpha 255 for RGB bitmaps). Panics outside the image; meant
    /// for tests and analysis code that iterates within bounds.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let c = self.channels.count();
        let i = (y as usize * self.width as usize + x as usize) * c;
        let p = &self.data[i..i + c];
        [p[0], p[1], p[2], if c == 4 { p[3] } else { 255 }]
    }

    /// True when some pixel is not fully opaque.
    pub fn has_transparency(&self) -> bool {
        self.channels == Channels::Rgba && self.data.chunks_exact(4).any(|p| p[3] != 255)
    }

    /// Drops the alpha channel by compositing over `background`.
    pub fn flatten(self, background: [u8; 3]) -> Bitmap {
        if self.channels == Channels::Rgb {
            return self;
        }
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for p in self.data.chunks_exact(4) {
            let a = u32::from(p[3]);
            for (c, bg) in p[..3].iter().zip(background) {
                let v = (u32::from(*c) * a + u32::from(bg) * (255 - a) + 127) / 255;
                out.push(v as u8);
            }
        }
        Bitmap {
            width: self.width,
            height: self.height,
            channels: Channels::Rgb,
            data: out,
        }
    }

    /// Converts to RGBA (alpha 255) if needed.
    pub fn into_rgba(self) -> Bitmap {
        if self.channels == Channels::Rgba {
            return self;
        }
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize * 4);
        for p in self.data.chunks_exact(3) {
            out.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
        Bitmap {
            width: self.width,
            height: self.height,
            channels: Channels::Rgba,
            data: out,
        }
    }
}
