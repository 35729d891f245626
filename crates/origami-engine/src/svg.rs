//! SVG input: parsed with a bound on its size, rasterised by resvg at the size the pipeline
//! needs.
//!
//! An SVG is its own intrinsic size in pixels (`width`/`height`, else its `viewBox`), and the
//! limits apply to that size like to any image; it is rasterised at that size or smaller (when
//! the first operation shrinks it), never larger, so its output is what a raster of its
//! intrinsic size would give. Nothing outside the file is ever read: no external entities, no
//! `<image>` (embedded rasters are not drawn either), no fonts, so `<text>` is not drawn: a
//! logo with text should be exported with its text as paths. The background is transparent.

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{ImageHrefResolver, Options, Tree};

use crate::bitmap::{Bitmap, Channels};
use crate::error::{EngineError, Result};
use crate::format::ImageFormat;
use crate::header::Header;

/// XML nodes parsed at most: far above real icons and illustrations (a detailed map is a few
/// tens of thousands), and a bound on what an entity-expansion or deeply nested file costs.
const MAX_NODES: u32 = 200_000;

/// Parses `bytes` into a render tree, reading nothing else.
fn tree(bytes: &[u8]) -> Result<Tree> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| EngineError::corrupt("SVG is not UTF-8 text"))?;
    let xml = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            // Illustrators' exports carry a DOCTYPE with entities; roxmltree bounds their
            // expansion (and refuses loops), the node limit bounds the rest.
            allow_dtd: true,
            nodes_limit: MAX_NODES,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .map_err(|e| EngineError::corrupt(format!("SVG: {e}")))?;
    let options = Options {
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(|_, _, _| None),
            resolve_string: Box::new(|_, _| None),
        },
        ..Options::default()
    };
    Tree::from_xmltree(&xml, &options).map_err(|e| EngineError::corrupt(format!("SVG: {e}")))
}

/// The intrinsic size in whole pixels (rounded up).
fn intrinsic_size(tree: &Tree) -> Result<(u32, u32)> {
    let size = tree.size();
    let side = |v: f32| {
        let v = v.ceil();
        if v.is_finite() && v >= 1.0 && v <= u32::MAX as f32 {
            Ok(v as u32)
        } else {
            Err(EngineError::corrupt(format!("SVG size {v} is not usable")))
        }
    };
    Ok((side(size.width())?, side(size.height())?))
}

/// The header facts of an SVG: its intrinsic size, alpha (a transparent background).
pub(crate) fn header(bytes: &[u8]) -> Result<Header> {
    let (width, height) = intrinsic_size(&tree(bytes)?)?;
    Ok(Header::plain(ImageFormat::Svg, width, height, true))
}

/// Rasterises the SVG at its intrinsic size, or smaller down to `min_size` when the pipeline
/// needs no more (keeping the aspect ratio), as straight-alpha RGBA.
pub(crate) fn decode(bytes: &[u8], min_size: Option<(u32, u32)>) -> Result<Bitmap> {
    let tree = tree(bytes)?;
    let (width, height) = intrinsic_size(&tree)?;
    let scale = match min_size {
        Some((w, h)) => (f64::from(w) / f64::from(width))
            .max(f64::from(h) / f64::from(height))
            .min(1.0),
        None => 1.0,
    };
    let out = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    let (out_w, out_h) = (out(width), out(height));
    let mut pixmap = Pixmap::new(out_w, out_h)
        .ok_or_else(|| EngineError::TooLarge(format!("SVG raster of {out_w}x{out_h}")))?;
    let size = tree.size();
    let transform =
        Transform::from_scale(out_w as f32 / size.width(), out_h as f32 / size.height());
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    let data: Vec<u8> = pixmap
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        })
        .collect();
    Bitmap::new(out_w, out_h, Channels::Rgba, data)
}
