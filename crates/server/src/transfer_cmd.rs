//! `rapport import customers|interactions FILE` and `rapport export customers|interactions`:
//! the HTTP import and export on files, through the same code ([`rapport_api::transfer`]).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use rapport_api::transfer::{self, ExportWriter, Format, ImportMode, ImportReport};
use rapport_domain::customer::CustomerSort;
use rapport_store::customers::{self, CustomerFilter};
use rapport_store::interactions::{self, InteractionFilter, TimeOrder};

use crate::analytics_cmd::Progress;
use crate::config::DbArgs;
use crate::startup::open_database;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import customers from a CSV or NDJSON file.
    Customers(ImportArgs),
    /// Import interactions from a CSV or NDJSON file.
    Interactions(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file; `.csv`, `.ndjson` or `.jsonl` (or say `--format`).
    pub file: PathBuf,
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// `all_or_nothing` writes nothing if any row is invalid; `skip_invalid` writes the rest
    /// (spelt as in the HTTP API; `skip-invalid` is accepted too).
    #[arg(long, value_enum, default_value = "all_or_nothing")]
    pub mode: ModeArg,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Export customers (oldest first).
    Customers(ExportArgs),
    /// Export interactions (oldest first).
    Interactions(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: FormatArg,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Customers: include archived ones.
    #[arg(long)]
    pub include_archived: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Ndjson,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Ndjson => Format::Ndjson,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    #[value(name = "all_or_nothing", alias = "all-or-nothing")]
    AllOrNothing,
    #[value(name = "skip_invalid", alias = "skip-invalid")]
    SkipInvalid,
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.progress.finish();
        } else {
            self.progress.add(n);
        }
        Ok(n)
    }
}

fn open_records(args: &ImportArgs) -> anyhow::Result<transfer::Records> {
    let format = match args.format {
        Some(f) => f.into(),
        None => Format::from_path(&args.file).with_context(|| {
            format!(
                "cannot tell the format of {}: name it .csv/.ndjson or pass --format",
                args.file.display()
            )
        })?,
    };
    let file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let reader = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            progress: Progress::new(&args.file),
        },
    );
    Ok(transfer::read_records(reader, format))
}

pub fn import(config: &DbArgs, cmd: ImportCommand) -> anyhow::Result<()> {
    let db = open_database(config)?;
    let mut conn = db.conn()?;
    let started = std::time::Instant::now();
    let mode = |m: ModeArg| match m {
        ModeArg::AllOrNothing => ImportMode::AllOrNothing,
        ModeArg::SkipInvalid => ImportMode::SkipInvalid,
    };
    let (what, report) = match cmd {
        ImportCommand::Customers(args) => {
            let records = open_records(&args)?;
            let r = transfer::import_customers(&mut conn, records, mode(args.mode), &mut |_| {})?;
            ("customers", r)
        }
        ImportCommand::Interactions(args) => {
            let records = open_records(&args)?;
            let r = transfer::import_interactions(
                &mut conn,
                records,
                mode(args.mode),
                None,
                &mut |_| {},
            )?;
            ("interactions", r)
        }
    };
    print_report(what, &report, started.elapsed());
    if !report.committed {
        bail!("{} invalid rows: nothing was written", report.invalid);
    }
    Ok(())
}

fn print_report(what: &str, r: &ImportReport, elapsed: std::time::Duration) {
    for e in &r.errors {
        eprintln!("line {}: {}: {} ({})", e.line, e.field, e.message, e.code);
    }
    if r.errors_truncated {
        eprintln!("… more errors not listed");
    }
    let secs = elapsed.as_secs_f64();
    eprintln!(
        "{what}: {} rows read, {} created, {} already there, {} invalid{} in {:.1} s ({:.0} rows/s)",
        r.rows,
        r.created,
        r.existing,
        r.invalid,
        if r.committed { "" } else { " — nothing written" },
        secs,
        r.rows as f64 / secs.max(1e-9),
    );
}

pub fn export(config: &DbArgs, cmd: ExportCommand) -> anyhow::Result<()> {
    let db = open_database(config)?;
    let (args, is_customers) = match cmd {
        ExportCommand::Customers(a) => (a, true),
        ExportCommand::Interactions(a) => (a, false),
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(create(path)?)),
        None => Box::new(std::io::stdout().lock()),
    };
    let format: Format = args.format.into();
    let n = if is_customers {
        let filter = CustomerFilter {
            include_archived: args.include_archived,
            ..Default::default()
        };
        let pages = pages(|cursor| {
            let mut conn = db.conn()?;
            customers::list(&mut conn, &filter, CustomerSort::CreatedAsc, cursor, 1000)
        });
        transfer::write_all(
            pages,
            ExportWriter::new(format, transfer::CUSTOMER_COLUMNS),
            &mut out,
        )?
    } else {
        let filter = InteractionFilter::default();
        let pages = pages(|cursor| {
            let mut conn = db.conn()?;
            interactions::list(&mut conn, &filter, TimeOrder::Asc, cursor, 1000)
        });
        transfer::write_all(
            pages,
            ExportWriter::new(format, transfer::INTERACTION_COLUMNS),
            &mut out,
        )?
    };
    eprintln!("exported {n} records");
    Ok(())
}

fn create(path: &Path) -> anyhow::Result<File> {
    File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Follows cursors until the last page.
fn pages<T>(
    mut next: impl FnMut(Option<&str>) -> rapport_store::StoreResult<rapport_store::page::Page<T>>,
) -> impl Iterator<Item = rapport_store::StoreResult<Vec<T>>> {
    let mut cursor: Option<String> = None;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match next(cursor.as_deref()) {
            Ok(page) => {
                cursor = page.next_cursor;
                done = cursor.is_none();
                Some(Ok(page.items))
            }
            Err(e) => {
                done = true;
                Some(Err(e))
            }
        }
    })
}
