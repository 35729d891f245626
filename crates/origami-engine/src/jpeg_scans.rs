//! A progressive JPEG without the scans a reduced decode does not read (1/8 scale, exactly) or
//! barely needs (1/4 scale, measured).
//!
//! At 1/8 scale libjpeg's inverse DCT of a component at full sampling is 1x1: each 8x8 block
//! becomes one pixel, its DC coefficient. (A subsampled component, the chroma of a 4:2:0 file,
//! is decoded at 2x2 instead, so that it needs no upsampling, and that transform reads AC
//! coefficients.) A progressive JPEG stores the DC coefficients in scans of their own
//! (spectral selection 0..0) and each component's AC coefficients in scans of that component
//! alone, most of the file. Handing the decoder every scan but the AC scans of the 1x1
//! components gives the same pixels for a fraction of the entropy decoding, once libjpeg's
//! block smoothing is kept from guessing the missing coefficients (see `dc_quantisers_only`).
//! Segments are copied, not re-encoded.
//!
//! At 1/4 scale every AC coefficient a 2x2 transform reads may be in any AC scan, so no scan
//! can be left out exactly; [`without_ac_refinement`] leaves out the refinement scans, an
//! approximation measured before it was taken (see `decode::Refinement`).

/// What the frame header says of one component.
#[derive(Clone, Copy)]
struct Component {
    id: u8,
    /// Decoded 1x1 at 1/8 scale: its AC scans are left out.
    dc_only: bool,
    /// Its quantisation table.
    table: u8,
}

/// What a scan header (SOS) says.
struct Scan<'a> {
    /// The components it codes (their ids).
    components: &'a [u8],
    /// Spectral selection start: 0 for a DC scan.
    spectral_start: u8,
    /// Successive approximation, high bit position: 0 for a first scan, else a refinement.
    approximation_high: u8,
}

/// A progressive JPEG copied without the scans `leave_out` picks, segment by segment.
struct Rebuilt {
    /// The copy.
    bytes: Vec<u8>,
    /// The frame's components.
    components: Vec<Component>,
    /// Where each DQT segment is in the copy (start, length).
    tables: Vec<(usize, usize)>,
}

/// Copies `bytes`, a progressive JPEG (SOF2), without the scans `leave_out` picks (it is given
/// each scan and the frame's components). `None` when the file is not progressive Huffman,
/// does not end in EOI, has no scan to leave out, or is not laid out as markers and scans.
fn rebuild(bytes: &[u8], leave_out: impl Fn(&Scan<'_>, &[Component]) -> bool) -> Option<Rebuilt> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    out.extend_from_slice(&bytes[..2]);
    let mut components: Option<Vec<Component>> = None;
    // Quantisation tables may come before the frame header: where they are is kept.
    let mut tables: Vec<(usize, usize)> = Vec::new();
    let mut pos = 2;
    let mut left_out = 0;
    loop {
        // A marker: 0xFF (fill bytes may repeat it), then its code.
        if *bytes.get(pos)? != 0xFF {
            return None;
        }
        while *bytes.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        let marker = *bytes.get(pos + 1)?;
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                break;
            }
            // Markers without a length (RSTn, TEM) outside a scan: kept, as the decoder
            // would see them.
            0xD0..=0xD7 | 0x01 => {
                out.extend_from_slice(&[0xFF, marker]);
                pos += 2;
                continue;
            }
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([
            *bytes.get(pos + 2)?,
            *bytes.get(pos + 3)?,
        ]));
        if length < 2 {
            return None;
        }
        let segment_end = pos + 2 + length;
        let segment = bytes.get(pos..segment_end)?;
        match marker {
            // SOF2 (progressive, Huffman): the components and their sampling.
            0xC2 => components = Some(frame_components(segment)?),
            0xDB => tables.push((out.len(), segment.len())),
            _ => {}
        }
        if marker != 0xDA {
            out.extend_from_slice(segment);
            pos = segment_end;
            continue;
        }
        // SOS: length, component count, two bytes per component, then Ss, Se, Ah/Al; the
        // entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a RSTn.
        // A scan before a progressive Huffman frame header: not a file to rebuild.
        let frame = components.as_deref()?;
        let count = usize::from(*segment.get(4)?);
        let ids: Vec<u8> = (0..count)
            .map(|i| segment.get(5 + 2 * i).copied())
            .collect::<Option<_>>()?;
        let scan = Scan {
            components: &ids,
            spectral_start: *segment.get(5 + 2 * count)?,
            approximation_high: *segment.get(7 + 2 * count)? >> 4,
        };
        let data_end = entropy_end(bytes, segment_end)?;
        if leave_out(&scan, frame) {
            left_out += 1;
        } else {
            out.extend_from_slice(&bytes[pos..data_end]);
        }
        pos = data_end;
    }
    if left_out == 0 {
        return None;
    }
    Some(Rebuilt {
        bytes: out,
        components: components?,
        tables,
    })
}

/// `bytes`, a progressive JPEG, without the AC scans of its components at full sampling.
/// `None` when the file does not end in EOI, has no such scan to leave out, or is not laid out
/// as markers and scans: the caller then decodes the file as it is.
pub(crate) fn dc_scans_only(bytes: &[u8]) -> Option<Vec<u8>> {
    let rebuilt = rebuild(bytes, |scan, frame| {
        scan.spectral_start != 0
            && matches!(scan.components, [id] if frame.iter().any(|c| c.id == *id && c.dc_only))
    })?;
    let Rebuilt {
        mut bytes,
        components,
        tables,
    } = rebuilt;
    // Only tables that no AC-decoded component uses lose their AC quantisers.
    let ac_tables: Vec<u8> = components
        .iter()
        .filter(|c| !c.dc_only)
        .map(|c| c.table)
        .collect();
    // A table shared with an AC-decoded component keeps its quantisers, so smoothing would
    // change the DC-only component: not the same pixels, so no shortcut.
    if components
        .iter()
        .any(|c| c.dc_only && ac_tables.contains(&c.table))
    {
        return None;
    }
    for (at, len) in tables {
        dc_quantisers_only(bytes.get_mut(at..at + len)?, &ac_tables)?;
    }
    Some(bytes)
}

/// `bytes`, a progressive JPEG, without its AC refinement scans (the later bits of AC
/// coefficients whose first bits an earlier scan gave): not the same pixels, but at 1/4 scale,
/// for an output at most half the decoded size, within 0.2 SSIMULACRA2 point of the whole
/// file on the benchmark photos (see `decode::Refinement`). The refinement scans are most of a
/// progressive file's bytes and of its entropy decoding (libjpeg-turbo's `decode_mcu_AC_refine`).
/// `None` as for [`dc_scans_only`].
pub(crate) fn without_ac_refinement(bytes: &[u8]) -> Option<Vec<u8>> {
    let rebuilt = rebuild(bytes, |scan, _| {
        scan.spectral_start != 0 && scan.approximation_high != 0
    })?;
    Some(rebuilt.bytes)
}

/// The components of an SOF segment (marker included), each marked `dc_only` when libjpeg
/// decodes it 1x1 at 1/8 scale: unless both its sampling factors divide the largest ones
/// twice over, in which case it is decoded larger to spare the upsampling (libjpeg-turbo's
/// `jpeg_core_output_dimensions`).
fn frame_components(segment: &[u8]) -> Option<Vec<Component>> {
    let count = usize::from(*segment.get(9)?);
    let raw: Vec<(u8, u8, u8, u8)> = segment
        .get(10..10 + 3 * count)?
        .chunks_exact(3)
        .map(|c| (c[0], (c[1] >> 4).max(1), (c[1] & 0x0F).max(1), c[2]))
        .collect();
    let max_h = raw.iter().map(|c| c.1).max()?;
    let max_v = raw.iter().map(|c| c.2).max()?;
    Some(
        raw.into_iter()
            .map(|(id, h, v, table)| Component {
                id,
                dc_only: !(max_h % (h * 2) == 0 && max_v % (v * 2) == 0),
                table,
            })
            .collect(),
    )
}

/// Sets to 0 the AC quantisers of every table in `segment` (a DQT segment, marker included)
/// that is not in `keep`. Without AC scans, libjpeg's block smoothing would estimate the AC
/// coefficients from the neighbouring blocks and, since libjpeg-turbo 2.1, adjust the DC
/// coefficient too: a different image. It skips a component whose table's first AC quantisers
/// are 0, and a 1x1 transform never reads the AC quantisers, so the pixels are those of the
/// whole file.
fn dc_quantisers_only(segment: &mut [u8], keep: &[u8]) -> Option<()> {
    let mut pos = 4;
    while pos < segment.len() {
        // Pq (precision: 0 = 8-bit, 1 = 16-bit entries) and Tq, then 64 entries.
        let wide = segment[pos] >> 4 != 0;
        let id = segment[pos] & 0x0F;
        let size = if wide { 2 } else { 1 };
        let table = segment.get_mut(pos + 1..pos + 1 + 64 * size)?;
        if !keep.contains(&id) {
            table[size..].fill(0);
        }
        pos += 1 + 64 * size;
    }
    Some(())
}

/// Where the entropy-coded data that starts at `from` ends: the position of the next marker
/// other than a stuffed byte (0xFF00) or a restart marker.
fn entropy_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    loop {
        let at = pos + bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(at + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => pos = at + 1,
            _ => return Some(at),
        }
    }
}
