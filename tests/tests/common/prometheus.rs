//! A small, strict parser for the Prometheus text exposition format (version 0.0.4), so the
//! tests check `/metrics` against the format rather than against a substring.
//!
//! Strict means: every sample belongs to a family declared by a `# TYPE` line that comes before
//! it; a family's lines form one contiguous group; `HELP`/`TYPE` appear at most once per family;
//! names and label names follow the grammar; label values use only the three escapes; values
//! are floats (`NaN`, `+Inf`, `-Inf` included); a histogram has, for every label set, ascending
//! `le` buckets with cumulative counts ending in `+Inf`, plus `_sum` and `_count` with
//! `_count` equal to the `+Inf` bucket.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample's own name (`foo_bucket` for a histogram bucket).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// One metric family: a `# TYPE` line and its samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Family {
    /// `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub kind: String,
    /// The `# HELP` text, unescaped.
    pub help: Option<String>,
    /// Its samples, in order.
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// The family `name`, if exposed.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.get(name)
    }

    /// Every sample of every family.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families
            .values()
            .flat_map(|family| family.samples.iter())
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => {
            // Rust's float parser also takes "inf"/"infinity"; the format does not.
            let plain = text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            if plain { text.parse().ok() } else { None }
        }
    }
}

/// Unescape a HELP text (`\\` and `\n` only).
fn unescape_help(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => return Err(format!("bad escape \\{other:?} in HELP")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Parse `{a="x",b="y"}` at the start of `text`; returns the labels and the rest.
fn parse_labels(text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = text
        .strip_prefix('{')
        .ok_or_else(|| "labels must start with {".to_owned())?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name} value must be quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label {name}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in label {name}")),
                },
                Some((_, '\n')) => return Err(format!("raw newline in label {name}")),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} repeated"));
        }
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("labels must be separated by ,".to_owned());
        }
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end..])?
    } else {
        (BTreeMap::new(), &line[name_end..])
    };
    let rest = rest
        .strip_prefix(' ')
        .ok_or("a single space must separate the value")?;
    let mut parts = rest.split(' ');
    let value_text = parts.next().unwrap_or_default();
    let value = parse_value(value_text).ok_or_else(|| format!("bad value {value_text:?}"))?;
    if let Some(timestamp) = parts.next()
        && timestamp.parse::<i64>().is_err()
    {
        return Err(format!("bad timestamp {timestamp:?}"));
    }
    if parts.next().is_some() {
        return Err("trailing text after the timestamp".to_owned());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Which declared family a sample name belongs to.
fn family_of<'a>(name: &'a str, families: &BTreeMap<String, Family>) -> Option<&'a str> {
    if families.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(stem) = name.strip_suffix(suffix)
            && families.get(stem).is_some_and(|f| {
                f.kind == "histogram" || (f.kind == "summary" && suffix != "_bucket")
            })
        {
            return Some(stem);
        }
    }
    None
}

/// Parse and check a whole exposition.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut enter = |name: &str, current: &mut Option<String>| -> Result<(), String> {
        if current.as_deref() != Some(name) {
            if finished.contains(name) {
                return Err(format!("the lines of {name} are not one group"));
            }
            if let Some(previous) = current.take() {
                finished.insert(previous);
            }
            *current = Some(name.to_owned());
        }
        Ok(())
    };
    for (index, line) in text.split('\n').enumerate() {
        let at = |message: String| format!("line {}: {message}: {line:?}", index + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start_matches(' ');
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !is_metric_name(name) {
                        return Err(at(format!("bad metric name {name:?}")));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at(format!("unknown type {kind:?}")));
                    }
                    enter(name, &mut current).map_err(at)?;
                    let family = families.entry(name.to_owned()).or_default();
                    if !family.kind.is_empty() {
                        return Err(at(format!("second TYPE for {name}")));
                    }
                    if !family.samples.is_empty() {
                        return Err(at(format!("TYPE for {name} after its samples")));
                    }
                    family.kind = kind.to_owned();
                }
                (Some("HELP"), Some(name), help) => {
                    if !is_metric_name(name) {
                        return Err(at(format!("bad metric name {name:?}")));
                    }
                    enter(name, &mut current).map_err(at)?;
                    let family = families.entry(name.to_owned()).or_default();
                    if family.help.is_some() {
                        return Err(at(format!("second HELP for {name}")));
                    }
                    family.help = Some(unescape_help(help.unwrap_or_default()).map_err(at)?);
                }
                _ => {} // Any other comment is allowed and ignored.
            }
            continue;
        }
        let sample = parse_sample(line).map_err(at)?;
        let family_name = family_of(&sample.name, &families)
            .ok_or_else(|| at(format!("sample {} before any TYPE for it", sample.name)))?
            .to_owned();
        enter(&family_name, &mut current).map_err(at)?;
        let family = families
            .get_mut(&family_name)
            .expect("family_of returns declared families");
        if family.kind.is_empty() {
            return Err(at(format!("{family_name} has HELP but no TYPE")));
        }
        if family.kind == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
            return Err(at(format!("counter {} is {}", sample.name, sample.value)));
        }
        family.samples.push(sample);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition must end with a newline".to_owned());
    }
    for (name, family) in &families {
        if family.kind.is_empty() {
            return Err(format!("{name} has HELP but no TYPE"));
        }
        if family.kind == "histogram" {
            check_histogram(name, family)?;
        }
    }
    Ok(Exposition { families })
}

/// One histogram series: `(le, count)` buckets in order, `_sum`, `_count`.
type Series = (Vec<(f64, f64)>, Option<f64>, Option<f64>);

fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    // Group by the label set without `le`.
    let mut series: BTreeMap<Vec<(String, String)>, Series> = BTreeMap::new();
    for sample in &family.samples {
        let mut key: Vec<(String, String)> = sample
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        key.sort();
        let entry = series.entry(key).or_default();
        if sample.name == format!("{name}_bucket") {
            let le = sample
                .labels
                .get("le")
                .ok_or_else(|| format!("{name}_bucket without le"))?;
            let bound = parse_value(le).ok_or_else(|| format!("{name}: bad le {le:?}"))?;
            entry.0.push((bound, sample.value));
        } else if sample.name == format!("{name}_sum") {
            entry.1 = Some(sample.value);
        } else if sample.name == format!("{name}_count") {
            entry.2 = Some(sample.value);
        } else {
            return Err(format!("{name}: unexpected sample {}", sample.name));
        }
    }
    for (labels, (buckets, sum, count)) in series {
        let what = format!("{name}{labels:?}");
        let count = count.ok_or_else(|| format!("{what}: no _count"))?;
        sum.ok_or_else(|| format!("{what}: no _sum"))?;
        let last = buckets
            .last()
            .ok_or_else(|| format!("{what}: no buckets"))?;
        if last.0 != f64::INFINITY {
            return Err(format!("{what}: the last bucket is not +Inf"));
        }
        if last.1 != count {
            return Err(format!("{what}: +Inf bucket {} != count {count}", last.1));
        }
        for pair in buckets.windows(2) {
            if pair[1].0.is_nan() || pair[0].0 >= pair[1].0 {
                return Err(format!("{what}: bucket bounds not ascending"));
            }
            if pair[0].1 > pair[1].1 {
                return Err(format!("{what}: bucket counts not cumulative"));
            }
        }
    }
    Ok(())
}
