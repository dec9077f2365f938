//! `rapport analytics …`: the analytics engine on CSV files, no database needed.
//!
//! - `clv`: transactions → summary → BG/NBD + Gamma-Gamma fits → per-customer predictions;
//! - `rfm`: transactions → RFM scores and segments at a date;
//! - `attribution`: ChannelAttribution-style path rows → per-channel credit by model.
//!
//! Input is streamed line by line (a progress line on stderr when it is a terminal); a bad row
//! stops the run with an error naming its line. Amounts are decimal currency units (`12.34`),
//! converted exactly to integer cents by `rapport_analytics::parse` (no float parsing of money);
//! money in the output is in currency units again.

use anyhow::{bail, Context};
use rapport_analytics::attribution::{self, Journeys, Model};
use rapport_analytics::clv::{self, historic::HistoricBuilder};
use rapport_analytics::gamma_gamma::ClvOptions;
use rapport_analytics::parse::{
    format_day, parse_date, ParseOrSink, PathParser, TransactionParser,
};
use rapport_analytics::rfm::{self, RfmBuilder};
use rapport_analytics::sharded::ShardedSummary;
use rapport_analytics::summary::{self, CalibrationHoldout, Merge, SummaryOptions, TimeUnit};
use rapport_analytics::{AnalyticsError, Day, Transaction};
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Decimal places of the amounts in the CSV (cents).
const SCALE: u32 = 2;
const MINOR_PER_UNIT: f64 = 100.0;

/// Time unit of the CLV models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeUnitArg {
    /// Days.
    Day,
    /// Weeks.
    Week,
}

/// Output format of `clv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One JSON document.
    Json,
    /// One CSV row per customer (the fitted parameters go to stderr).
    Csv,
}

/// Attribution model(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelArg {
    /// First touch.
    First,
    /// Last touch.
    Last,
    /// Linear.
    Linear,
    /// Time decay (half-life of one touch: paths carry no times).
    TimeDecay,
    /// Position based, 40/20/40.
    Position,
    /// First-order Markov chain removal effects.
    Markov,
    /// Shapley value.
    Shapley,
    /// All of the above.
    All,
}

/// `rapport analytics` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AnalyticsCommand {
    /// Predictive CLV: BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend) per customer.
    Clv {
        /// CSV with a header and columns customer_id,date,amount (date YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        transactions: PathBuf,
        /// Last day of the calibration period (YYYY-MM-DD); the models are fitted up to it.
        #[arg(long)]
        calibration_end: String,
        /// Last day of the observation; purchases after the calibration end up to it form the
        /// holdout used to check the predictions. Defaults to the calibration end.
        #[arg(long)]
        observation_end: Option<String>,
        /// Unit of recency, T and the model rates.
        #[arg(long, value_enum, default_value = "week")]
        time_unit: TimeUnitArg,
        /// Prediction horizon: a number in the model's --time-unit (`39` with weeks is 39
        /// weeks), or with a unit: `39w`, `9m` (months of 30 days or 4.345 weeks), `270d`.
        #[arg(long, default_value = "12m")]
        horizon: String,
        /// Monthly discount rate for the CLV.
        #[arg(long, default_value_t = 0.01)]
        discount_rate: f64,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        output: OutputFormat,
    },
    /// RFM scores (1–5) and named segments at a date.
    Rfm {
        /// CSV with a header and columns customer_id,date,amount.
        #[arg(long)]
        transactions: PathBuf,
        /// The date recency counts from (YYYY-MM-DD); later purchases are ignored.
        #[arg(long)]
        as_of: String,
        /// Output format (CSV: one row per customer; the segment counts go to stderr).
        #[arg(long, value_enum, default_value = "json")]
        output: OutputFormat,
    },
    /// k-means clusters of customers on recency, frequency and spend (log-scaled, standardised).
    Clusters {
        /// CSV with a header and columns customer_id,date,amount.
        #[arg(long)]
        transactions: PathBuf,
        /// The date recency counts from (YYYY-MM-DD); later purchases are ignored.
        #[arg(long)]
        as_of: String,
        /// How many clusters.
        #[arg(long, default_value_t = 4)]
        k: usize,
        /// Seed of the k-means++ draws: the same seed gives the same clusters.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output format (CSV: one row per customer; the clusters go to stderr).
        #[arg(long, value_enum, default_value = "json")]
        output: OutputFormat,
    },
    /// Per-channel attribution of conversions and value.
    Attribution {
        /// CSV with a header and columns path,total_conversions,total_conversion_value,total_null
        /// (path: channels joined by " > ").
        #[arg(long)]
        paths: PathBuf,
        /// Model.
        #[arg(long, value_enum, default_value = "all")]
        model: ModelArg,
        /// Output format (CSV: one row per model and channel).
        #[arg(long, value_enum, default_value = "json")]
        output: OutputFormat,
    },
}

/// `--horizon` in months: a bare number counts in the model's time unit; `w`, `m` and `d` name
/// weeks, months and days (a month is 30 days or 4.345 weeks, as in the CLV convention).
fn horizon_months(text: &str, unit: TimeUnit) -> anyhow::Result<f64> {
    let text = text.trim();
    let (number, months_per) = match text.char_indices().last() {
        Some((i, 'w' | 'W')) => (&text[..i], 1.0 / TimeUnit::Week.per_month()),
        Some((i, 'd' | 'D')) => (&text[..i], 1.0 / TimeUnit::Day.per_month()),
        Some((i, 'm' | 'M')) => (&text[..i], 1.0),
        _ => (text, 1.0 / unit.per_month()),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() && n * months_per <= 1200.0 => Ok(n * months_per),
        _ => bail!(
            "--horizon `{text}`: give a positive number in the model's time unit, or with a unit \
             (39w, 9m, 270d), up to 100 years"
        ),
    }
}

/// Run a subcommand, writing its result to stdout.
pub fn run(cmd: AnalyticsCommand) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match cmd {
        AnalyticsCommand::Clv {
            transactions,
            calibration_end,
            observation_end,
            time_unit,
            horizon,
            discount_rate,
            output,
        } => {
            let calibration_end = date_arg("--calibration-end", &calibration_end)?;
            let observation_end = match observation_end {
                Some(d) => date_arg("--observation-end", &d)?,
                None => calibration_end,
            };
            if observation_end < calibration_end {
                bail!("--observation-end is before --calibration-end");
            }
            if !(discount_rate > -1.0 && discount_rate.is_finite()) {
                bail!("--discount-rate must be a number above -1 (0.01 = 1 % a month)");
            }
            let time_unit = match time_unit {
                TimeUnitArg::Day => TimeUnit::Day,
                TimeUnitArg::Week => TimeUnit::Week,
            };
            let opts = SummaryOptions {
                time_unit,
                merge: Merge::SameDay,
                calibration_end,
                observation_end,
            };
            let clv_opts = ClvOptions {
                months: horizon_months(&horizon, time_unit)?,
                monthly_discount_rate: discount_rate,
                margin: 1.0,
                time_unit,
            };
            let result = clv_command(&transactions, opts, &clv_opts)?;
            match output {
                OutputFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &result.json)?;
                    writeln!(out)?;
                }
                OutputFormat::Csv => {
                    eprintln!("{}", serde_json::to_string(&result.json["models"])?);
                    write_clv_csv(&mut out, &result.json)?;
                }
            }
        }
        AnalyticsCommand::Rfm {
            transactions,
            as_of,
            output,
        } => {
            let as_of = date_arg("--as-of", &as_of)?;
            let v = rfm_command(&transactions, as_of)?;
            const COLUMNS: &[&str] = &[
                "customer_id",
                "recency_days",
                "frequency",
                "monetary",
                "first_purchase",
                "last_purchase",
                "r",
                "f",
                "m",
                "rfm",
                "segment",
            ];
            emit(&mut out, output, &v, "customers", COLUMNS, "segments")?;
        }
        AnalyticsCommand::Clusters {
            transactions,
            as_of,
            k,
            seed,
            output,
        } => {
            let as_of = date_arg("--as-of", &as_of)?;
            let v = clusters_command(&transactions, as_of, k, seed)?;
            const COLUMNS: &[&str] = &[
                "customer_id",
                "cluster",
                "recency_days",
                "frequency",
                "monetary",
            ];
            emit(&mut out, output, &v, "customers", COLUMNS, "clusters")?;
        }
        AnalyticsCommand::Attribution {
            paths,
            model,
            output,
        } => {
            let mut v = attribution_command(&paths, model)?;
            // One row per model and channel.
            let rows: Vec<Value> = v["models"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .flat_map(|m| {
                    let name = m["model"].clone();
                    m["channels"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |mut c| {
                            c["model"] = name.clone();
                            c
                        })
                })
                .collect();
            v["rows"] = Value::Array(rows);
            const COLUMNS: &[&str] = &[
                "model",
                "channel",
                "conversions",
                "value",
                "conversion_share",
                "value_share",
                "removal_effect",
            ];
            if output == OutputFormat::Json {
                v.as_object_mut().map(|o| o.remove("rows"));
            }
            emit(&mut out, output, &v, "rows", COLUMNS, "paths")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Writes `v` as JSON, or its `rows` array as CSV with `columns` (a missing value is an empty
/// cell) and the `summary` member as one JSON line on stderr.
fn emit(
    out: &mut impl Write,
    format: OutputFormat,
    v: &Value,
    rows: &str,
    columns: &[&str],
    summary: &str,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, v)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            eprintln!("{}", serde_json::to_string(&v[summary])?);
            let rows = v[rows].as_array().map(Vec::as_slice).unwrap_or(&[]);
            write_rows_csv(out, rows, columns)?;
        }
    }
    Ok(())
}

fn write_rows_csv(out: &mut impl Write, rows: &[Value], columns: &[&str]) -> anyhow::Result<()> {
    writeln!(out, "{}", columns.join(","))?;
    for r in rows {
        let line: Vec<String> = columns
            .iter()
            .map(|c| match &r[*c] {
                Value::String(s) => csv_field(s),
                Value::Null => String::new(),
                other => other.to_string(),
            })
            .collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

fn date_arg(flag: &str, s: &str) -> anyhow::Result<Day> {
    parse_date(s.as_bytes()).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// Progress on stderr when it is a terminal: bytes read of the file's size.
pub(crate) struct Progress {
    total: u64,
    done: u64,
    next: u64,
    on: bool,
}

impl Progress {
    pub(crate) fn new(path: &Path) -> Self {
        let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Self {
            total,
            done: 0,
            next: 0,
            on: std::io::stderr().is_terminal() && total > 0,
        }
    }

    pub(crate) fn add(&mut self, n: usize) {
        self.done += n as u64;
        if self.on && self.done >= self.next {
            self.next = self.done + (1 << 22);
            let pct = (self.done as f64 * 100.0 / self.total as f64).min(100.0);
            eprint!("\r{} {:>5.1} % ({} MB)", bar(pct), pct, self.done >> 20);
        }
    }

    pub(crate) fn finish(&self) {
        if self.on {
            eprintln!("\r{} 100.0 % ({} MB)", bar(100.0), self.done >> 20);
        }
    }
}

/// `[#########-----------]`, 30 cells wide.
fn bar(pct: f64) -> String {
    let filled = ((pct / 100.0) * 30.0).round().clamp(0.0, 30.0) as usize;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(30 - filled))
}

/// Stream the lines of a file to `f(line_number, line)`.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(u64, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut progress = Progress::new(path);
    let mut line = Vec::with_capacity(256);
    let mut n = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        n += 1;
        progress.add(read);
        f(n, &line)?;
    }
    progress.finish();
    if n == 0 {
        bail!("{} is empty (expected a header line)", path.display());
    }
    Ok(())
}

/// Stream transactions to `sink`; returns the customer ids by index.
fn read_transactions(
    path: &Path,
    mut sink: impl FnMut(Transaction) -> Result<(), AnalyticsError>,
) -> anyhow::Result<Vec<String>> {
    let mut parser = TransactionParser::new(SCALE);
    for_each_line(path, |n, line| {
        if let Some(tx) = parser
            .parse_line(n, line)
            .with_context(|| format!("{}", path.display()))?
        {
            sink(tx)?;
        }
        Ok(())
    })?;
    Ok(parser.customers.into_ids())
}

/// Parse and summarise a transactions file in 8 MiB blocks cut at line ends.
fn summarize_streaming(
    path: &Path,
    opts: SummaryOptions,
) -> anyhow::Result<(Vec<String>, Vec<CalibrationHoldout>)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut sharded = ShardedSummary::new(opts, SCALE, rayon_threads())?;
    let mut progress = Progress::new(path);
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let mut chunk = vec![0u8; BLOCK];
    let mut any = false;
    loop {
        let n = file
            .read(&mut chunk)
            .with_context(|| format!("cannot read {}", path.display()))?;
        progress.add(n);
        if n == 0 {
            if !buf.is_empty() {
                sharded
                    .feed(&buf)
                    .map_err(|e| anyhow::Error::new(e).context(path.display().to_string()))?;
            }
            break;
        }
        any = true;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.iter().rposition(|&c| c == b'\n') {
            sharded
                .feed(&buf[..=end])
                .map_err(|e| anyhow::Error::new(e).context(path.display().to_string()))?;
            buf.drain(..=end);
        }
    }
    progress.finish();
    if !any {
        bail!("{} is empty (expected a header line)", path.display());
    }
    let (rows, ids) = sharded.finish();
    Ok((ids, rows))
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

const BLOCK: usize = 8 << 20;

struct ClvOutput {
    json: Value,
}

fn clv_command(
    path: &Path,
    opts: SummaryOptions,
    clv_opts: &ClvOptions,
) -> anyhow::Result<ClvOutput> {
    // One streaming pass in O(customers) memory, sharded over the cores, when each customer's
    // rows are in date order (date- or customer-sorted files); otherwise a second pass that sorts.
    let (ids, rows) = match summarize_streaming(path, opts) {
        Ok(r) => r,
        Err(e)
            if e.downcast_ref::<ParseOrSink<AnalyticsError>>()
                .is_some_and(|e| {
                    matches!(e, ParseOrSink::Sink(AnalyticsError::OutOfOrder { .. }))
                }) =>
        {
            if std::io::stderr().is_terminal() {
                eprintln!("rows are not in date order per customer: reading again to sort");
            }
            let mut all = Vec::new();
            let ids = read_transactions(path, |t| {
                all.push(t);
                Ok(())
            })?;
            (ids, summary::summarize(&all, opts)?)
        }
        Err(e) => return Err(e),
    };
    if rows.is_empty() {
        bail!("no customer made a first purchase on or before the calibration end");
    }
    // Fit spend in currency units, so that γ and the predictions read as money.
    let data: Vec<_> = rows
        .iter()
        .map(|r| {
            let mut c = r.calibration;
            c.monetary_value /= MINOR_PER_UNIT;
            c
        })
        .collect();
    let res = clv::fit_and_predict(&data, clv_opts).context("fitting the CLV models")?;
    let holdout = opts.observation_end > opts.calibration_end;
    let unit_name = match opts.time_unit {
        TimeUnit::Day => "day",
        TimeUnit::Week => "week",
    };
    let holdout_len = rows.first().map_or(0.0, |r| r.holdout_duration);
    let customers: Vec<Value> = res
        .customers
        .iter()
        .zip(&rows)
        .map(|(p, r)| {
            let s = p.summary;
            let mut v = json!({
                "customer_id": ids.get(s.customer as usize).map_or("", String::as_str),
                "frequency": s.frequency,
                "recency": s.recency,
                "T": s.t,
                "monetary_value": s.monetary_value,
                "expected_purchases": p.expected_purchases,
                "probability_alive": p.probability_alive,
                "expected_average_spend": p.expected_average_spend,
                "clv": p.clv,
            });
            if holdout {
                v["holdout_frequency"] = json!(r.holdout_frequency);
                v["expected_holdout_purchases"] = json!(res
                    .bgnbd
                    .params
                    .conditional_expected_purchases(holdout_len, s.frequency, s.recency, s.t));
            }
            v
        })
        .collect();
    let bg = &res.bgnbd;
    let gg = &res.gamma_gamma;
    let warnings = clv::fit_warnings(bg, gg);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let json = json!({
        "warnings": warnings,
        "calibration_end": format_day(opts.calibration_end),
        "observation_end": format_day(opts.observation_end),
        "time_unit": unit_name,
        "horizon_months": clv_opts.months,
        "monthly_discount_rate": clv_opts.monthly_discount_rate,
        "money": "currency units of the input amounts",
        "models": {
            "bgnbd": {
                "r": bg.params.r, "alpha": bg.params.alpha, "a": bg.params.a, "b": bg.params.b,
                "log_likelihood": bg.log_likelihood,
                "customers": bg.customers,
                "converged": bg.convergence.converged,
                "iterations": bg.convergence.iterations,
                "gradient_norm": bg.convergence.gradient_norm,
                "message": bg.convergence.message,
            },
            "gamma_gamma": {
                "p": gg.params.p, "q": gg.params.q, "gamma": gg.params.gamma,
                "log_likelihood": gg.log_likelihood,
                "customers": gg.customers,
                "skipped": gg.skipped,
                "converged": gg.convergence.converged,
                "iterations": gg.convergence.iterations,
                "gradient_norm": gg.convergence.gradient_norm,
                "message": gg.convergence.message,
            },
        },
        "customers": customers,
    });
    Ok(ClvOutput { json })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_clv_csv(out: &mut impl Write, v: &Value) -> anyhow::Result<()> {
    let mut cols = vec![
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "expected_purchases",
        "probability_alive",
        "expected_average_spend",
        "clv",
    ];
    let rows = v["customers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if rows
        .first()
        .is_some_and(|r| r.get("holdout_frequency").is_some())
    {
        cols.extend(["holdout_frequency", "expected_holdout_purchases"]);
    }
    write_rows_csv(out, rows, &cols)
}

fn money(minor: i64) -> f64 {
    minor as f64 / MINOR_PER_UNIT
}

fn rfm_command(path: &Path, as_of: Day) -> anyhow::Result<Value> {
    let mut builder = RfmBuilder::new(as_of);
    let mut history = HistoricBuilder::new(as_of);
    let ids = read_transactions(path, |t| {
        builder.push(t);
        history.push(t);
        Ok(())
    })?;
    let scores = rfm::score(&builder.finish(), as_of);
    let history = history.finish(None);
    let customers: Vec<Value> = scores
        .iter()
        .zip(&history)
        .map(|(s, h)| {
            json!({
                "customer_id": ids.get(s.customer as usize).map_or("", String::as_str),
                "recency_days": s.recency_days,
                "frequency": s.frequency,
                "monetary": money(s.monetary),
                "first_purchase": format_day(h.first_day),
                "last_purchase": format_day(h.last_day),
                "r": s.r,
                "f": s.f,
                "m": s.m,
                "rfm": format!("{}{}{}", s.r, s.f, s.m),
                "segment": s.segment.name(),
            })
        })
        .collect();
    let segments: serde_json::Map<String, Value> = rfm::segment_counts(&scores)
        .into_iter()
        .map(|(s, n)| (s.name().to_string(), json!(n)))
        .collect();
    Ok(json!({
        "as_of": format_day(as_of),
        "customers_scored": scores.len(),
        "segments": segments,
        "customers": customers,
    }))
}

/// k-means on (recency in days, ln(1 + purchases), ln(1 + spend)) per customer, standardised.
fn clusters_command(path: &Path, as_of: Day, k: usize, seed: u64) -> anyhow::Result<Value> {
    use rapport_analytics::cluster::{kmeans, silhouette, KMeansOptions};
    let mut builder = RfmBuilder::new(as_of);
    let ids = read_transactions(path, |t| {
        builder.push(t);
        Ok(())
    })?;
    let scores = rfm::score(&builder.finish(), as_of);
    if k < 1 || k > scores.len() {
        bail!(
            "--k {k}: give 1 to {} (one cluster at most per customer)",
            scores.len()
        );
    }
    let mut data = Vec::with_capacity(scores.len() * 3);
    for s in &scores {
        data.extend([
            f64::from(s.recency_days),
            (1.0 + s.frequency as f64).ln(),
            (1.0 + s.monetary as f64 / MINOR_PER_UNIT).ln(),
        ]);
    }
    let mut opts = KMeansOptions::new(k);
    opts.seed = seed;
    let fit = kmeans(&data, 3, &opts)?;
    let sil = silhouette(&data, 3, &fit.labels, 2_000, seed);
    let clusters: Vec<Value> = (0..k)
        .map(|c| {
            let centre = &fit.centroids_original[c * 3..c * 3 + 3];
            json!({
                "cluster": c,
                "customers": fit.sizes[c],
                "recency_days": centre[0],
                "frequency": centre[1].exp() - 1.0,
                "monetary": centre[2].exp() - 1.0,
            })
        })
        .collect();
    let customers: Vec<Value> = scores
        .iter()
        .zip(&fit.labels)
        .map(|(s, &label)| {
            json!({
                "customer_id": ids.get(s.customer as usize).map_or("", String::as_str),
                "cluster": label,
                "recency_days": s.recency_days,
                "frequency": s.frequency,
                "monetary": money(s.monetary),
            })
        })
        .collect();
    Ok(json!({
        "as_of": format_day(as_of),
        "k": k,
        "features": ["recency_days", "ln(1 + frequency)", "ln(1 + monetary)"],
        "inertia": fit.inertia,
        "silhouette": sil,
        "converged": fit.converged,
        "clusters": clusters,
        "customers": customers,
    }))
}

fn attribution_command(path: &Path, model: ModelArg) -> anyhow::Result<Value> {
    let mut parser = PathParser::new();
    let mut rows = Vec::new();
    for_each_line(path, |n, line| {
        if let Some(row) = parser
            .parse_line(n, line)
            .with_context(|| format!("{}", path.display()))?
        {
            rows.push(row);
        }
        Ok(())
    })?;
    let mut journeys = Journeys::new(parser.channels.into_ids());
    for r in &rows {
        journeys.push(&r.channels, None, r.conversions, r.value, r.nulls)?;
    }
    drop(rows);
    let models: Vec<Model> = match model {
        ModelArg::First => vec![Model::FirstTouch],
        ModelArg::Last => vec![Model::LastTouch],
        ModelArg::Linear => vec![Model::Linear],
        ModelArg::TimeDecay => vec![Model::TimeDecay { half_life: 1.0 }],
        ModelArg::Position => vec![Model::PositionBased {
            first: 0.4,
            last: 0.4,
        }],
        ModelArg::Markov => vec![Model::Markov { order: 1 }],
        ModelArg::Shapley => vec![Model::Shapley],
        ModelArg::All => vec![
            Model::FirstTouch,
            Model::LastTouch,
            Model::Linear,
            Model::TimeDecay { half_life: 1.0 },
            Model::PositionBased {
                first: 0.4,
                last: 0.4,
            },
            Model::Markov { order: 1 },
            Model::Shapley,
        ],
    };
    let mut results = Vec::new();
    for m in models {
        let a = attribution::attribute(&journeys, m)?;
        let channels: Vec<Value> = a
            .channels
            .iter()
            .map(|c| {
                let mut v = json!({
                    "channel": c.name,
                    "conversions": c.conversions,
                    "value": c.value,
                    "conversion_share": c.conversion_share,
                    "value_share": c.value_share,
                });
                if let Some(re) = c.removal_effect {
                    v["removal_effect"] = json!(re);
                }
                v
            })
            .collect();
        results.push(json!({
            "model": m.name(),
            "total_conversions": a.total_conversions,
            "total_value": a.total_value,
            "channels": channels,
        }));
    }
    Ok(json!({ "paths": journeys.len(), "models": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horizon_counts_in_the_model_unit_or_its_own() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(
            horizon_months("39", TimeUnit::Week).unwrap(),
            39.0 / 4.345
        ));
        assert!(close(
            horizon_months("39w", TimeUnit::Day).unwrap(),
            39.0 / 4.345
        ));
        assert!(close(horizon_months("270d", TimeUnit::Week).unwrap(), 9.0));
        assert!(close(horizon_months("270", TimeUnit::Day).unwrap(), 9.0));
        assert!(close(horizon_months("9m", TimeUnit::Week).unwrap(), 9.0));
        assert!(close(horizon_months("1.5M", TimeUnit::Day).unwrap(), 1.5));
        for bad in ["", "0", "-3w", "12x", "w", "nan", "1300m"] {
            assert!(horizon_months(bad, TimeUnit::Week).is_err(), "{bad}");
        }
    }
}
