//! A shields.io "flat" badge as a self-contained SVG: a grey label on the
//! left, a coloured message on the right, white Verdana 11px text with
//! a shadow, rounded corners. No font or asset is fetched: text widths
//! come from Verdana's advance widths (the table below, as shields does),
//! and `textLength` makes the viewer's fallback font fit the same width.
//! Pure: text in, SVG text out.

use std::fmt::Write as _;

/// Colours of shields' palette that the badges use.
pub mod colour {
    pub const BRIGHT_GREEN: &str = "#4c1";
    pub const GREEN: &str = "#97ca00";
    pub const YELLOW: &str = "#dfb317";
    pub const ORANGE: &str = "#fe7d37";
    pub const RED: &str = "#e05d44";
    pub const BLUE: &str = "#007ec6";
    pub const GREY: &str = "#9f9f9f";
    /// The label's background.
    pub const LABEL: &str = "#555";
}

/// One badge: `label` on grey, `message` on `colour` (`#rgb` or `#rrggbb`).
#[derive(Debug, Clone, PartialEq)]
pub struct Badge<'a> {
    pub label: &'a str,
    pub message: &'a str,
    pub colour: &'a str,
}

/// Space each side of a text, in px.
const PADDING: u32 = 5;

/// Verdana's advance widths for ASCII 32..=126, in font units (2048 per
/// em): at 11px a character is `units × 11 / 2048` px wide.
const VERDANA: [u16; 95] = [
    720, 806, 940, 1837, 1303, 2222, 1493, 550, 909, 909, 1303, 1837, 727, 909, 727,
    909, // ' '../
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, // 0..9
    909, 909, 1837, 1837, 1837, 1118, 2048, // :..@
    1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 862, 931, 1419, 1165, 1733, // A..M
    1537, 1612, 1235, 1612, 1423, 1404, 1233, 1499, 1401, 2038, 1403, 1231, 1403, // N..Z
    909, 909, 909, 1837, 1303, 1303, // [..`
    1229, 1270, 1067, 1270, 1221, 719, 1270, 1292, 561, 702, 1199, 561, 1985, // a..m
    1292, 1238, 1270, 1270, 874, 1067, 807, 1292, 1199, 1636, 1199, 1199, 1056, // n..z
    1303, 909, 1303, 1837, // {..~
];

/// Units of a character outside the table: a digit's width for Latin-1,
/// a full em beyond (CJK and most symbols are wide).
fn units(c: char) -> u32 {
    match c {
        ' '..='~' => u32::from(VERDANA[c as usize - 32]),
        '\u{a0}'..='\u{ff}' => 1303,
        _ => 2048,
    }
}

/// The width of `text` in Verdana 11px, rounded up to a whole odd number
/// of pixels (an odd width centres the text on the pixel grid, as shields
/// does).
pub fn text_width(text: &str) -> u32 {
    let units: u32 = text.chars().map(units).sum();
    let px = (units * 11).div_ceil(2048);
    if px.is_multiple_of(2) { px + 1 } else { px }
}

/// `text` with XML's five special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

impl Badge<'_> {
    /// The widths of the label part and the message part, in px.
    pub fn widths(&self) -> (u32, u32) {
        (
            text_width(self.label) + 2 * PADDING,
            text_width(self.message) + 2 * PADDING,
        )
    }

    /// The SVG document: `role="img"`, `aria-label` and `<title>` say
    /// "label: message"; text is drawn at 10× scale for sub-pixel centring.
    pub fn render(&self) -> String {
        let (lw, mw) = self.widths();
        let width = lw + mw;
        let label = escape(self.label);
        let message = escape(self.message);
        let colour = escape(self.colour);
        let title = format!("{label}: {message}");
        let id = ids(self);
        let mut svg = String::with_capacity(1200);
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{title}"><title>{title}</title><linearGradient id="s{id}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r{id}"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r{id})"><rect width="{lw}" height="20" fill="{label_bg}"/><rect x="{lw}" width="{mw}" height="20" fill="{colour}"/><rect width="{width}" height="20" fill="url(#s{id})"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">"##,
            label_bg = colour::LABEL,
        );
        text(&mut svg, &label, lw * 5, text_width(self.label));
        text(
            &mut svg,
            &message,
            lw * 10 + mw * 5,
            text_width(self.message),
        );
        svg.push_str("</g></svg>");
        svg
    }
}

/// A suffix for the gradient's and the clip path's ids, the same for the
/// same badge: several different badges inlined in one HTML page must not
/// share ids (the first badge's clip path would cut the others).
fn ids(badge: &Badge) -> String {
    // FNV-1a over the three texts.
    let mut hash: u32 = 0x811c_9dc5;
    for part in [badge.label, badge.message, badge.colour] {
        for byte in part.bytes().chain([0]) {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
    format!("-{hash:08x}")
}

/// One text, its shadow first, centred at `x` (tenths of a px).
fn text(svg: &mut String, escaped: &str, x: u32, width: u32) {
    let length = width * 10;
    let _ = write!(
        svg,
        r##"<text aria-hidden="true" x="{x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{length}">{escaped}</text><text x="{x}" y="140" transform="scale(.1)" fill="#fff" textLength="{length}">{escaped}</text>"##
    );
}

#[cfg(test)]
mod tests;
