//! Segment-Spec messages (JSON lines) in, unified profiles out.
//!
//! ```text
//! cargo run --release --example spec_jsonl -- [--schema schema.json] [--mapping map.json] \
//!     [--segments segments.json] messages.jsonl      # or `-` for stdin
//! ```
//!
//! - `--schema`: a [`audience::schema::SchemaDef`] in JSON (default
//!   `Schema::retail_default()`).
//! - `--mapping`: an [`audience::spec::Mapping`] in JSON (default `Mapping::default()`).
//! - `--segments`: a JSON object of segment name → [`audience::segment::Expr`].
//!
//! Every line is one message. A line that cannot be ingested is reported on stderr as
//! `line N: <why>` and skipped; the run goes on, and exits with status 1 if any line was
//! bad (status 2 for bad arguments or files). Blank lines are skipped. Lines longer than
//! the mapping's `max_message_bytes` are refused without being held in memory.
//!
//! ## Output (a public contract)
//! After the last line the engine clock is moved to the latest message time, and stdout
//! gets one JSON object per live profile, one per line, sorted by the profile's smallest
//! `(kind, value)` identifier:
//!
//! ```text
//! {"identifiers":[["anonymous_id","a-1"],["email","ann@example.com"]],
//!  "traits":{"first_name":{"value":{"text":"Ann"}}},
//!  "computed":{},"segments":["buyers"]}
//! ```
//!
//! (one line each; wrapped here). `identifiers` are `[kind, normalized value]` pairs,
//! sorted; `traits` maps each trait to its current value ([`audience::CurrentValue`]: a
//! typed `{"value": {...}}`, or `{"money_totals": [...]}` for money sums); `computed` maps
//! each computed trait with a value to its [`audience::ComputedValue`]; `segments` lists
//! the `--segments` the profile is in, sorted. With `--segments`, a last line
//! `{"counts":{"name":n,...}}` gives each segment's size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use audience::schema::SchemaDef;
use audience::segment::Expr;
use audience::spec::{Mapping, SpecMapper, summaries};
use audience::{Engine, Schema};

struct Args {
    schema: Option<String>,
    mapping: Option<String>,
    segments: Option<String>,
    input: String,
}

const USAGE: &str = "usage: spec_jsonl [--schema schema.json] [--mapping map.json] \
                     [--segments segments.json] <messages.jsonl | ->";

fn parse_args() -> Result<Args, String> {
    let (mut schema, mut mapping, mut segments, mut input) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--schema" => &mut schema,
            "--mapping" => &mut mapping,
            "--segments" => &mut segments,
            "-" => {
                input = Some(arg);
                continue;
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}\n{USAGE}")),
            _ => {
                input = Some(arg);
                continue;
            }
        };
        *slot = Some(args.next().ok_or(format!("{arg} needs a file\n{USAGE}"))?);
    }
    Ok(Args {
        schema,
        mapping,
        segments,
        input: input.ok_or(USAGE)?,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

/// Reads the next line into `line` (without its newline), keeping at most `max + 1` bytes
/// of it; returns `None` at the end, else whether the line fit.
fn next_line(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
    line.clear();
    let mut fits = true;
    let mut any = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (buf.get(..i).unwrap_or_default(), Some(i + 1)),
            None => (buf, None),
        };
        if fits && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            fits = false;
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            return Ok(Some(fits));
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let schema = match &args.schema {
        Some(path) => {
            Schema::from_def(read_json::<SchemaDef>(path)?).map_err(|e| format!("{path}: {e}"))?
        }
        None => Schema::retail_default(),
    };
    let mapping: Mapping = match &args.mapping {
        Some(path) => read_json(path)?,
        None => Mapping::default(),
    };
    let segments: BTreeMap<String, Expr> = match &args.segments {
        Some(path) => read_json(path)?,
        None => BTreeMap::new(),
    };
    let mapper = SpecMapper::new(&schema, mapping).map_err(|e| format!("mapping: {e}"))?;
    let mut engine = Engine::new(schema);
    let mut input: Box<dyn BufRead> = if args.input == "-" {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(&args.input).map_err(|e| format!("{}: {e}", args.input))?;
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let max = mapper.mapping().max_message_bytes;
    let (mut line, mut number, mut bad, mut latest) = (Vec::new(), 0u64, false, None);
    while let Some(fits) =
        next_line(&mut input, &mut line, max).map_err(|e| format!("{}: {e}", args.input))?
    {
        number += 1;
        if !fits {
            eprintln!("line {number}: longer than {max} bytes");
            bad = true;
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            eprintln!("line {number}: not UTF-8");
            bad = true;
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        match mapper.record(text).and_then(|record| {
            engine
                .ingest(&record)
                .map_err(|e| audience::spec::SpecError {
                    message_id: record.message_id.clone(),
                    problem: e.into(),
                })?;
            Ok(record.timestamp)
        }) {
            Ok(at) => latest = latest.max(Some(at)),
            Err(e) => {
                eprintln!("line {number}: {e}");
                bad = true;
            }
        }
    }
    if let Some(at) = latest {
        engine.advance_time(at).map_err(|e| e.to_string())?;
    }
    let mut ids = Vec::new();
    for (name, expr) in segments {
        let id = engine
            .register_segment(&name, expr)
            .map_err(|e| format!("segment {name:?}: {e}"))?;
        ids.push((name, id));
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for summary in summaries(&engine) {
        write_line(&mut out, &summary)?;
    }
    if !ids.is_empty() {
        let counts: BTreeMap<&str, u64> = ids
            .iter()
            .map(|(name, id)| (name.as_str(), engine.segment_count(*id).unwrap_or(0)))
            .collect();
        let last: BTreeMap<&str, BTreeMap<&str, u64>> = [("counts", counts)].into();
        write_line(&mut out, &last)?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(!bad)
}

/// Writes `value` as one line of JSON.
fn write_line(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), String> {
    serde_json::to_writer(&mut *out, value).map_err(|e| e.to_string())?;
    out.write_all(b"\n").map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
