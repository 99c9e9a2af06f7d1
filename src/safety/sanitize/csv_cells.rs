//! CSV that a spreadsheet opens as data: every cell that a spreadsheet
//! would read as a formula is neutralised (OWASP "CSV injection").
//!
//! A cell whose first character is `=`, `+`, `-`, `@`, a tab or a carriage
//! return (or their full-width forms, which some spreadsheets accept too),
//! after any leading spaces, gets a `'` in front, which spreadsheets show
//! as text. A plain number (`-3`, `0.25`) is left alone: it cannot be a
//! formula. Quoting is the `csv` crate's (RFC 4180).

use std::borrow::Cow;
use std::io;

use serde::Serialize;

/// What starts a formula (or, for tab and CR, hides one after a cell
/// boundary an importer may see).
const FORMULA_STARTS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// The cell as a spreadsheet should store it: unchanged, or with `'` in
/// front when it could start a formula.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let first = text.trim_start_matches(' ').chars().next();
    if first.is_some_and(|c| FORMULA_STARTS.contains(&c)) && !is_plain_number(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `-12`, `+3.5`, `0.25`: digits with one optional sign and point.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

/// The scratch buffers of one serde row (the crate's default is 8 KiB,
/// allocated twice per row).
const SCRATCH_BYTES: usize = 1024;

/// A `csv::Writer` whose every cell passes [`csv_cell`]: the only CSV
/// writer the project uses for files people open.
pub struct SafeCsv<W: io::Write> {
    out: csv::Writer<W>,
    /// Whether the next `serialize` writes the header first.
    header_pending: bool,
}

impl<W: io::Write> SafeCsv<W> {
    /// A writer whose first `serialize` writes the header too.
    pub fn from_writer(out: W) -> SafeCsv<W> {
        SafeCsv::with_headers(out, true)
    }

    /// A writer of rows only (the caller wrote or will write the header).
    pub fn without_headers(out: W) -> SafeCsv<W> {
        SafeCsv::with_headers(out, false)
    }

    fn with_headers(out: W, headers: bool) -> SafeCsv<W> {
        SafeCsv {
            out: csv::Writer::from_writer(out),
            header_pending: headers,
        }
    }

    /// Writes one record of text cells.
    pub fn write_record<I, T>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let safe = cells
            .into_iter()
            .map(|cell| csv_cell(cell.as_ref()).into_owned());
        self.out.write_record(safe)
    }

    /// Writes a serde row (and the header before the first one, when this
    /// writer has headers), each cell neutralised.
    pub fn serialize<S: Serialize>(&mut self, row: S) -> csv::Result<()> {
        // The row goes through CSV once to be read back as cells: the
        // `csv` crate offers no other way to see a serde row's fields.
        let mut scratch = csv::WriterBuilder::new()
            .has_headers(std::mem::take(&mut self.header_pending))
            .buffer_capacity(SCRATCH_BYTES)
            .from_writer(Vec::new());
        scratch.serialize(row)?;
        let encoded = scratch.into_inner().map_err(|e| e.into_error())?;
        let mut records = csv::ReaderBuilder::new()
            .has_headers(false)
            .buffer_capacity(SCRATCH_BYTES)
            .from_reader(encoded.as_slice());
        for record in records.records() {
            self.write_record(record?.iter())?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// What has been written so far (after a `flush`).
    pub fn get_ref(&self) -> &W {
        self.out.get_ref()
    }

    pub fn into_inner(self) -> csv::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error().into())
    }
}

#[cfg(test)]
mod tests;
