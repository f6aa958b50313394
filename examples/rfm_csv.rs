//! RFM scores of a transactions CSV, the way an analyst computes them.
//!
//! ```text
//! cargo run --release --example rfm_csv -- [--convention threshold|rank|rpkg] <transactions.csv>
//! ```
//!
//! Reads `customer_id,timestamp,amount` (timestamp `YYYY-MM-DD` or RFC 3339, of which the
//! date part counts; amount a decimal in major units with at most two decimals, read
//! exactly), uses the day after the last transaction as the reference time, and prints
//! `customer_id,recency_days,frequency,monetary_minor,r,f,m,segment`, one row per
//! customer, sorted by customer_id (numerically when every id is an integer). A malformed
//! row is reported with its line number and the run exits non-zero.
//!
//! Try it on the CDNOW data: `cargo run --release --example rfm_csv --
//! tests/data/cdnow/cdnow_transactions.csv`.

use std::io::Write;
use std::process::ExitCode;

use audience::Currency;
use audience::rfm::Scoring;
use audience::rfm::transactions::{parse, score, to_csv};

fn parse_args() -> Result<(Scoring, String), String> {
    let mut scoring = Scoring::Threshold;
    let mut path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--convention" => {
                scoring = match args.next().as_deref() {
                    Some("threshold") => Scoring::Threshold,
                    Some("rank") => Scoring::Rank,
                    Some("rpkg") => Scoring::Rpkg,
                    other => {
                        return Err(format!(
                            "--convention needs threshold, rank or rpkg, got {other:?}"
                        ));
                    }
                }
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            file => path = Some(file.to_string()),
        }
    }
    let path =
        path.ok_or("usage: rfm_csv [--convention threshold|rank|rpkg] <transactions.csv>")?;
    Ok((scoring, path))
}

fn run(scoring: Scoring, path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let usd = Currency::new("USD").map_err(|e| e.to_string())?;
    let rows = parse(&text, usd).map_err(|e| format!("{path}: {e}"))?;
    let scored = score(&rows, scoring).map_err(|e| format!("{path}: {e}"))?;
    Ok(to_csv(&scored))
}

fn main() -> ExitCode {
    let (scoring, path) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rfm_csv: {e}");
            return ExitCode::from(2);
        }
    };
    match run(scoring, &path) {
        Ok(csv) => {
            if std::io::stdout().write_all(csv.as_bytes()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rfm_csv: {e}");
            ExitCode::FAILURE
        }
    }
}
