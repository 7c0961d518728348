//! Chain-of-Table's table and its operations (Wang et al. 2024): a table
//! read from CSV, the five atomic operations the paper plans with
//! (`f_add_column`, `f_select_row`, `f_select_column`, `f_group_by`,
//! `f_sort_by`), and the paper's PIPE rendering that the model reads.
//!
//! The operations run here, in the runner, on plain data: no model-written
//! code runs. A turn that names no operation leaves the table as it is; a
//! malformed one is answered with one line saying why.

use std::sync::LazyLock;

use regex::Regex;

/// Bounds on what a table may grow to (a CSV in an item, columns a model
/// adds): beyond them the table is refused or the operation is.
pub(crate) const MAX_ROWS: usize = 1000;
pub(crate) const MAX_COLUMNS: usize = 64;
const MAX_CELL_CHARS: usize = 500;

/// A table: a header and rows, every row as long as the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

/// Where an operation starts: `f_name(`; its arguments run to the last
/// `)` of the line (column names may hold brackets: `Stock (kg)`).
static OPERATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"f_(add_column|select_row|select_column|group_by|sort_by)\(")
        .expect("a fixed regular expression compiles")
});

impl Table {
    /// Reads CSV text: the first record is the header. Quoted fields may
    /// hold commas, quotes (doubled) and line breaks.
    pub(crate) fn from_csv(text: &str) -> Result<Table, String> {
        let mut records = parse_csv(text)?;
        records.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
        let mut records = records.into_iter();
        let header: Vec<String> = records
            .next()
            .ok_or("the table is empty (expected CSV with a header line)")?
            .into_iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.len() > MAX_COLUMNS {
            return Err(format!(
                "the table has {} columns; at most {MAX_COLUMNS}",
                header.len()
            ));
        }
        let mut rows = Vec::new();
        for (i, row) in records.enumerate() {
            if row.len() != header.len() {
                return Err(format!(
                    "row {} has {} fields; the header has {}",
                    i + 1,
                    row.len(),
                    header.len()
                ));
            }
            if rows.len() == MAX_ROWS {
                return Err(format!("the table has more than {MAX_ROWS} rows"));
            }
            rows.push(row.into_iter().map(|c| c.trim().to_string()).collect());
        }
        Ok(Table { header, rows })
    }

    /// The paper's PIPE format: `col : a | b` then `row 1 : x | y`, between
    /// `/*` and `*/`.
    pub(crate) fn to_pipe(&self) -> String {
        let mut out = String::from("/*\ncol : ");
        out.push_str(&self.header.join(" | "));
        for (i, row) in self.rows.iter().enumerate() {
            out.push_str(&format!("\nrow {} : {}", i + 1, row.join(" | ")));
        }
        out.push_str("\n*/");
        out
    }

    /// Applies the last operation `turn` names; `Ok(None)` when it names
    /// none. The error says why the operation was refused (the table is
    /// then unchanged).
    pub(crate) fn apply_turn(&mut self, turn: &str) -> Result<Option<String>, String> {
        let Some(found) = OPERATION.captures_iter(turn).last() else {
            return Ok(None);
        };
        let name = found.get(1).map_or("", |m| m.as_str());
        let rest = &turn[found.get(0).map_or(0, |m| m.end())..];
        let line = rest.lines().next().unwrap_or("");
        let Some(close) = line.rfind(')') else {
            return Err(format!("f_{name}( has no closing bracket"));
        };
        let args = line[..close].trim();
        let written = format!("f_{name}({args})");
        let next = match name {
            "select_row" => self.select_rows(args),
            "select_column" => self.select_columns(args),
            "add_column" => self.add_column(args),
            "group_by" => self.group_by(args),
            _ => self.sort_by(args),
        }
        .map_err(|why| format!("{written} was not applied: {why}"))?;
        *self = next;
        Ok(Some(written))
    }

    /// The column named `name` (case and surrounding spaces ignored).
    fn column(&self, name: &str) -> Result<usize, String> {
        let wanted = name.trim().trim_matches(['"', '\'', '`']).to_lowercase();
        self.header
            .iter()
            .position(|h| h.to_lowercase() == wanted)
            .ok_or_else(|| {
                format!(
                    "no column `{}` (the columns: {})",
                    name.trim(),
                    self.header.join(", ")
                )
            })
    }

    /// `row 1, row 3` (or `1, 3`, or `*` for every row).
    fn select_rows(&self, args: &str) -> Result<Table, String> {
        if args == "*" {
            return Ok(self.clone());
        }
        let mut rows = Vec::new();
        for part in args.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let number = part
                .trim_start_matches("row")
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("`{part}` is not a row such as `row 2`"))?;
            let row = number
                .checked_sub(1)
                .and_then(|i| self.rows.get(i))
                .ok_or_else(|| {
                    format!(
                        "there is no row {number} (the table has {})",
                        self.rows.len()
                    )
                })?;
            if !rows.contains(row) {
                rows.push(row.clone());
            }
        }
        if rows.is_empty() {
            return Err("names no rows".into());
        }
        Ok(Table {
            header: self.header.clone(),
            rows,
        })
    }

    /// `Name, Year`.
    fn select_columns(&self, args: &str) -> Result<Table, String> {
        let mut keep = Vec::new();
        for part in args.split(',').filter(|p| !p.trim().is_empty()) {
            let index = self.column(part)?;
            if !keep.contains(&index) {
                keep.push(index);
            }
        }
        if keep.is_empty() {
            return Err("names no columns".into());
        }
        Ok(Table {
            header: keep.iter().map(|&i| self.header[i].clone()).collect(),
            rows: self
                .rows
                .iter()
                .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
                .collect(),
        })
    }

    /// `Name; v1 | v2 | …`: one value per row, in order.
    fn add_column(&self, args: &str) -> Result<Table, String> {
        let (name, values) = args
            .split_once(';')
            .ok_or("expected `Name; value of row 1 | value of row 2 | …`")?;
        let name = name.trim();
        if name.is_empty() || self.column(name).is_ok() {
            return Err(format!("`{name}` is empty or already a column"));
        }
        if self.header.len() == MAX_COLUMNS {
            return Err(format!("the table has {MAX_COLUMNS} columns already"));
        }
        let values: Vec<String> = values
            .split('|')
            .map(|v| v.trim().chars().take(MAX_CELL_CHARS).collect())
            .collect();
        if values.len() != self.rows.len() {
            return Err(format!(
                "gives {} values for {} rows",
                values.len(),
                self.rows.len()
            ));
        }
        let mut next = self.clone();
        next.header.push(name.to_string());
        for (row, value) in next.rows.iter_mut().zip(values) {
            row.push(value);
        }
        Ok(next)
    }

    /// `Country`: each distinct value with how many rows have it, as the
    /// paper's operation does (first-seen order).
    fn group_by(&self, args: &str) -> Result<Table, String> {
        let index = self.column(args)?;
        let mut groups: Vec<(String, usize)> = Vec::new();
        for row in &self.rows {
            match groups.iter_mut().find(|(v, _)| *v == row[index]) {
                Some((_, n)) => *n += 1,
                None => groups.push((row[index].clone(), 1)),
            }
        }
        Ok(Table {
            header: vec![self.header[index].clone(), "Count".into()],
            rows: groups
                .into_iter()
                .map(|(v, n)| vec![v, n.to_string()])
                .collect(),
        })
    }

    /// `Year` or `Year, desc`: numbers compare as numbers when every cell
    /// of the column is one, text otherwise; the sort is stable.
    fn sort_by(&self, args: &str) -> Result<Table, String> {
        let (column, order) = match args.rsplit_once(',') {
            Some((c, o)) if ["asc", "desc"].contains(&o.trim().to_lowercase().as_str()) => {
                (c, o.trim().to_lowercase())
            }
            _ => (args, "asc".to_string()),
        };
        let index = self.column(column)?;
        let number = |s: &str| s.replace(',', "").trim().parse::<f64>().ok();
        let numeric = self.rows.iter().all(|r| number(&r[index]).is_some());
        let mut rows = self.rows.clone();
        rows.sort_by(|a, b| {
            if numeric {
                let (x, y) = (number(&a[index]), number(&b[index]));
                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
            } else {
                a[index].to_lowercase().cmp(&b[index].to_lowercase())
            }
        });
        if order == "desc" {
            rows.reverse();
        }
        Ok(Table {
            header: self.header.clone(),
            rows,
        })
    }
}

/// CSV records (RFC 4180: commas, double quotes, doubled quotes inside).
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
        if field.chars().count() > MAX_CELL_CHARS {
            return Err(format!(
                "a cell of the table is longer than {MAX_CELL_CHARS} characters"
            ));
        }
    }
    if quoted {
        return Err("the table's CSV ends inside a quoted field".into());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "Name,Year,Country\nAda,1990,Italy\n\"Bo, Jr\",1985,France\nCy,2001,Italy\n";

    fn table() -> Table {
        Table::from_csv(CSV).unwrap()
    }

    #[test]
    fn csv_reads_quotes_and_refuses_ragged_rows() {
        let t = table();
        assert_eq!(t.header, ["Name", "Year", "Country"]);
        assert_eq!(t.rows[1], ["Bo, Jr", "1985", "France"]);
        assert_eq!(
            Table::from_csv("a,b\n1\n").unwrap_err(),
            "row 1 has 1 fields; the header has 2"
        );
        assert!(Table::from_csv("a\n\"open").is_err());
        assert!(Table::from_csv("").is_err());
    }

    #[test]
    fn each_operation_does_what_the_paper_says() {
        let mut t = table();
        assert_eq!(
            t.apply_turn("-> f_select_row(row 1, row 3)").unwrap(),
            Some("f_select_row(row 1, row 3)".into())
        );
        assert_eq!(t.rows.len(), 2);
        t.apply_turn("f_add_column(Decade; 1990s | 2000s)").unwrap();
        assert_eq!(t.rows[1], ["Cy", "2001", "Italy", "2000s"]);
        t.apply_turn("f_select_column(name, Decade)").unwrap();
        assert_eq!(t.header, ["Name", "Decade"]);

        let mut t = table();
        t.apply_turn("f_sort_by(Year, desc)").unwrap();
        assert_eq!(t.rows[0][0], "Cy");
        t.apply_turn("f_group_by(Country)").unwrap();
        assert_eq!(
            t.to_pipe(),
            "/*\ncol : Country | Count\nrow 1 : Italy | 2\nrow 2 : France | 1\n*/"
        );
    }

    #[test]
    fn a_bad_operation_leaves_the_table_and_says_why() {
        let mut t = table();
        let err = t.apply_turn("f_select_column(Age)").unwrap_err();
        assert_eq!(
            err,
            "f_select_column(Age) was not applied: no column `Age` (the columns: Name, Year, Country)"
        );
        assert!(t.apply_turn("f_add_column(X; 1 | 2)").is_err());
        assert!(t.apply_turn("f_select_row(row 9)").is_err());
        assert_eq!(t, table());
        assert_eq!(t.apply_turn("no operation here"), Ok(None));
        assert!(t.apply_turn("f_sort_by(Year").is_err());
        let mut stock = Table::from_csv("Fruit,Stock (kg)\nfig,3\nkiwi,12\n").unwrap();
        stock.apply_turn("f_sort_by(Stock (kg), desc)").unwrap();
        assert_eq!(stock.rows[0][0], "kiwi", "a column name may hold brackets");
    }
}
