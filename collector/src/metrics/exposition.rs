//! The exposition formats `/metrics` answers in: the Prometheus text format
//! 0.0.4 (the default) and OpenMetrics 1.0 (when the scrape's `Accept`
//! asks for `application/openmetrics-text`).
//!
//! A [`Family`] writes one metric family: its `# HELP` and `# TYPE` once,
//! then samples, into its own buffer, so that series coming from several
//! places (shards of a table) still end up grouped under one header. The
//! differences between the formats are all here: a counter's `TYPE` names
//! the family without `_total` in OpenMetrics, and OpenMetrics ends with
//! `# EOF`. Label values are escaped (`\\`, `"`, newline) and numbers are
//! written as Prometheus reads them (`+Inf`, `-Inf`, `NaN`).

use std::fmt::Write as _;

/// Which format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (with no `q=0`), else the text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let asks = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                let mut params = part.split(';').map(str::trim);
                params.next() == Some("application/openmetrics-text")
                    && !params.any(|p| p.replace(' ', "") == "q=0")
            })
        });
        if asks {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// What closes the exposition (`# EOF` in OpenMetrics).
    pub fn trailer(self) -> &'static str {
        match self {
            Format::Text => "",
            Format::OpenMetrics => "# EOF\n",
        }
    }
}

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family being written: header, then samples.
pub struct Family {
    /// The family's sample name (a counter's ends in `_total`).
    name: &'static str,
    pub out: String,
}

impl Family {
    /// Starts `name` (a counter's with its `_total`) with its header.
    pub fn new(format: Format, name: &'static str, kind: Kind, help: &str) -> Family {
        let mut out = String::new();
        push_header(&mut out, format, name, kind, help);
        Family { name, out }
    }

    /// A sample of the family itself with `labels` (already written by
    /// [`labels`], without braces; empty for none).
    pub fn sample(&mut self, labels: &str, value: f64) {
        self.sample_named("", labels, value);
    }

    /// A sample whose name is the family's plus `suffix` (`_bucket`,
    /// `_sum`, `_count`).
    pub fn sample_named(&mut self, suffix: &str, labels: &str, value: f64) {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            self.out.push_str(labels);
            self.out.push('}');
        }
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// An integer sample (counters, states): no float formatting.
    pub fn sample_int(&mut self, labels: &str, value: i64) {
        self.start_sample(labels);
        push_int(&mut self.out, value);
        self.out.push('\n');
    }

    /// A duration in seconds given in microseconds, written exactly with
    /// integer arithmetic (`0.012345`): the probe families' hot path.
    pub fn sample_micros(&mut self, labels: &str, micros: u64) {
        self.start_sample(labels);
        push_micros(&mut self.out, micros);
        self.out.push('\n');
    }

    fn start_sample(&mut self, labels: &str) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            self.out.push_str(labels);
            self.out.push('}');
        }
        self.out.push(' ');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Whole families in a row, then the format's trailer.
pub struct Exposition {
    format: Format,
    out: String,
}

impl Exposition {
    pub fn new(format: Format) -> Exposition {
        Exposition {
            format,
            out: String::new(),
        }
    }

    /// Writes the family `name`: its header, then what `body` samples.
    pub fn family(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &str,
        body: impl FnOnce(&mut Family),
    ) {
        let mut f = Family::new(self.format, name, kind, help);
        body(&mut f);
        self.out.push_str(&f.out);
    }

    /// The text, with the trailer (`# EOF` in OpenMetrics).
    pub fn finish(mut self) -> String {
        self.out.push_str(self.format.trailer());
        self.out
    }
}

/// Appends the `# HELP` and `# TYPE` lines of the family `name` (a
/// counter's with its `_total`, dropped from the header in OpenMetrics).
pub fn push_header(out: &mut String, format: Format, name: &str, kind: Kind, help: &str) {
    let (type_name, kind_word) = match kind {
        Kind::Counter if format == Format::OpenMetrics => {
            (name.strip_suffix("_total").unwrap_or(name), "counter")
        }
        Kind::Counter => (name, "counter"),
        Kind::Gauge => (name, "gauge"),
        Kind::Histogram => (name, "histogram"),
    };
    out.push_str("# HELP ");
    out.push_str(type_name);
    out.push(' ');
    push_help(out, help);
    out.push_str("\n# TYPE ");
    out.push_str(type_name);
    out.push(' ');
    out.push_str(kind_word);
    out.push('\n');
}

/// Appends `name="value"` to `out` (comma-separated from what is there),
/// escaping the value.
pub fn push_label(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

/// Appends a label value, escaped (`\\`, `"`, newline) only if it needs it.
pub fn push_escaped(out: &mut String, value: &str) {
    if value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
    } else {
        out.push_str(value);
    }
}

/// Appends `v` in decimal without going through `fmt`.
pub fn push_int(out: &mut String, v: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    push_digits(out, &buf[at..]);
}

/// Appends ASCII digits (no UTF-8 check: it was 4 % of a render).
fn push_digits(out: &mut String, digits: &[u8]) {
    out.reserve(digits.len());
    for &d in digits {
        out.push(char::from(d));
    }
}

/// Appends `micros` microseconds as seconds: `3`, `0.5`, `0.012345`
/// (trailing zeros dropped).
pub fn push_micros(out: &mut String, micros: u64) {
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    push_int(out, i64::try_from(secs).unwrap_or(i64::MAX));
    if frac == 0 {
        return;
    }
    let mut digits = [b'0'; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let len = 6 - digits.iter().rev().take_while(|&&d| d == b'0').count();
    out.push('.');
    push_digits(out, &digits[..len]);
}

/// The label pairs written as `a="x",b="y"`.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        push_label(&mut out, name, value);
    }
    out
}

/// A HELP text: backslash and newline escaped.
fn push_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as Prometheus reads it.
pub fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        push_int(out, v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_microseconds_are_written_exactly() {
        let mut out = String::new();
        for v in [0, 7, -42, i64::MAX, i64::MIN] {
            out.clear();
            push_int(&mut out, v);
            assert_eq!(out, v.to_string());
        }
        for (us, text) in [
            (0, "0"),
            (1, "0.000001"),
            (12_345, "0.012345"),
            (500_000, "0.5"),
            (3_000_000, "3"),
            (61_000_010, "61.00001"),
        ] {
            out.clear();
            push_micros(&mut out, us);
            assert_eq!(out, text, "{us} µs");
            assert_eq!(out.parse::<f64>().ok(), Some(us as f64 / 1e6));
        }
    }

    #[test]
    fn negotiates_openmetrics_only_when_asked() {
        let cases = [
            (None, Format::Text),
            (Some("text/plain"), Format::Text),
            (Some("*/*"), Format::Text),
            (
                Some("application/openmetrics-text; version=1.0.0"),
                Format::OpenMetrics,
            ),
            (
                Some(
                    "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                Format::OpenMetrics,
            ),
            (Some("application/openmetrics-text; q=0"), Format::Text),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn counter_type_drops_total_in_openmetrics_only() {
        let text = Family::new(Format::Text, "x_total", Kind::Counter, "X").finish();
        assert_eq!(text, "# HELP x_total X\n# TYPE x_total counter\n");
        let mut om = Family::new(Format::OpenMetrics, "x_total", Kind::Counter, "X");
        om.sample_int("", 3);
        assert_eq!(om.finish(), "# HELP x X\n# TYPE x counter\nx_total 3\n");
    }

    #[test]
    fn escapes_label_values_and_help() {
        assert_eq!(
            labels(&[("service", "a\\b\"c\nd"), ("agent", "x")]),
            r#"service="a\\b\"c\nd",agent="x""#
        );
        let f = Family::new(Format::Text, "g", Kind::Gauge, "line\none \\ two");
        assert!(
            f.out.starts_with("# HELP g line\\none \\\\ two\n"),
            "{}",
            f.out
        );
    }

    #[test]
    fn writes_values_as_prometheus_reads_them() {
        let mut out = String::new();
        for v in [
            1.0,
            0.25,
            -2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1.5e20,
        ] {
            push_value(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "1 0.25 -2 +Inf -Inf NaN 150000000000000000000 ");
    }
}
