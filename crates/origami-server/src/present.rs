//! The JSON shapes of the API's answers, in one place (the routes and the thumbhash renderer
//! use them; `docs` and tests read them back).

use origami_engine::{ImageInfo, ThumbHash};
use origami_store::{ContentHash, DeleteOutcome, RegionCheck, RegionStatus};

use crate::phase::Phase;
use serde_json::{json, Value};

/// The probe of an original as `GET /info/{hash}` and `origami probe` print it: `hash`,
/// `format` (the canonical extension, e.g. `jpg`), stored `width` and `height`, `bytes`,
/// `has_alpha`, EXIF `orientation` (1-8), `progressive`, `has_icc_profile` and `frames` (an
/// animated GIF or WebP's frame count; 1 for a still image).
pub fn info_json(hash: &ContentHash, info: &ImageInfo, bytes: u64) -> Value {
    json!({
        "hash": hash.to_string(),
        "format": info.format.extension(),
        "width": info.width,
        "height": info.height,
        "bytes": bytes,
        "has_alpha": info.has_alpha,
        "orientation": info.orientation,
        "progressive": info.progressive,
        "has_icc_profile": info.has_icc_profile,
        "frames": info.frames,
    })
}

/// `GET /thumbhash/{hash}`: the placeholder, base64, with the upright source's size.
pub(crate) fn thumbhash(thumbhash: &ThumbHash) -> Value {
    use base64::Engine as _;
    json!({
        "thumbhash": base64::engine::general_purpose::STANDARD.encode(&thumbhash.hash),
        "width": thumbhash.width,
        "height": thumbhash.height,
    })
}

/// `POST /originals`: what was stored, and where.
pub(crate) fn uploaded(
    hash: &ContentHash,
    bytes: u64,
    info: &ImageInfo,
    stored_in: &[String],
) -> Value {
    let ext = info.format.extension();
    let (width, height) = info.oriented_dimensions();
    json!({
        "hash": hash.to_string(),
        "bytes": bytes,
        "width": width,
        "height": height,
        "format": ext,
        "url": format!("/original/{hash}.{ext}"),
        "regions": stored_in,
    })
}

/// `DELETE /originals/{hash}`: where the delete was made, where it is queued, and the paths
/// to invalidate at the CDN.
pub(crate) fn deleted(outcome: &DeleteOutcome, cdn_paths: &[String]) -> Value {
    let pending: Vec<Value> = outcome
        .pending
        .iter()
        .map(|cause| json!({ "region": cause.region, "reason": cause.message }))
        .collect();
    json!({
        "hash": outcome.hash.to_string(),
        "had_original": outcome.had_original,
        "deleted_in": outcome.deleted_in,
        "pending": pending,
        "derived_objects": outcome.derived.len(),
        "cdn_paths": cdn_paths,
    })
}

/// `GET /readyz`: readiness and each region's breaker.
pub(crate) fn readiness(phase: Phase, regions: &[RegionStatus]) -> Value {
    let list: Vec<Value> = regions
        .iter()
        .map(|r| {
            let (check, detail) = match &r.check {
                RegionCheck::NotYet => ("pending", None),
                RegionCheck::Answered(access) if access.can_list => ("ok", None),
                RegionCheck::Answered(_) => ("ok_without_list", None),
                RegionCheck::Failed(reason) => ("failed", Some(reason.as_str())),
            };
            let mut region = json!({
                "name": r.name,
                "up": r.up,
                "consecutive_failures": r.consecutive_failures,
                "check": check,
            });
            if let Some(detail) = detail {
                region["check_error"] = json!(detail);
            }
            region
        })
        .collect();
    json!({
        "ready": phase == Phase::Serving,
        "phase": phase.as_str(),
        "regions_up": regions.iter().filter(|r| r.up).count(),
        "regions": list,
    })
}
