//! Multi-row statements on both engines from one description of the rows.
//!
//! On SQLite a statement is `HEAD VALUES (?, …), (?, …) TAIL`, one bind per
//! value, chunked (SQLite allows 32766 parameters). On PostgreSQL it is
//! `HEAD SELECT * FROM UNNEST($1::bigint[], $2::text[], …) TAIL`: one bind
//! per *column*, an array literal in text form, whatever the number of
//! rows. Its text does not depend on the row count, so the connection's
//! prepared statement is reused from one commit to the next (parsed and
//! planned once), and a batch of any size is one statement.
//!
//! Callers describe a row once, through [`Values`], for both forms.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::{Any, AssertSqlSafe, QueryBuilder};

use super::backend::{Backend, numbered};

/// A column's SQL type, for PostgreSQL's array casts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
    Bytes,
}

impl Kind {
    fn array(self) -> &'static str {
        match self {
            Kind::Int => "bigint[]",
            Kind::Text => "text[]",
            Kind::Bytes => "bytea[]",
        }
    }
}

/// Where a row's values go, in column order.
pub(super) trait Values {
    fn int(&mut self, v: Option<i64>) -> &mut dyn Values;
    fn text(&mut self, v: Option<&str>) -> &mut dyn Values;
    fn bytes(&mut self, v: &[u8]) -> &mut dyn Values;
}

impl Values for Separated<'_, Any, &'static str> {
    fn int(&mut self, v: Option<i64>) -> &mut dyn Values {
        self.push_bind(v);
        self
    }
    fn text(&mut self, v: Option<&str>) -> &mut dyn Values {
        self.push_bind(v.map(str::to_owned));
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut dyn Values {
        self.push_bind(v.to_vec());
        self
    }
}

/// PostgreSQL array literals, one per column, filled row by row.
struct Arrays {
    columns: Vec<String>,
    next: usize,
}

impl Arrays {
    fn new(width: usize) -> Arrays {
        Arrays {
            columns: vec![String::from("{"); width],
            next: 0,
        }
    }

    /// The column the next value belongs to, with its separator written.
    fn column(&mut self) -> &mut String {
        let width = self.columns.len();
        let column = &mut self.columns[self.next % width];
        self.next += 1;
        if column.len() > 1 {
            column.push(',');
        }
        column
    }
}

impl Values for Arrays {
    fn int(&mut self, v: Option<i64>) -> &mut dyn Values {
        let column = self.column();
        match v {
            Some(v) => {
                use std::fmt::Write;
                let _ = write!(column, "{v}");
            }
            None => column.push_str("NULL"),
        }
        self
    }
    fn text(&mut self, v: Option<&str>) -> &mut dyn Values {
        let column = self.column();
        match v {
            Some(v) => quote(column, v),
            None => column.push_str("NULL"),
        }
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut dyn Values {
        use std::fmt::Write;
        let column = self.column();
        // `"\\x…"`: the array literal unescapes to bytea's hex form `\x…`.
        column.push_str("\"\\\\x");
        for b in v {
            let _ = write!(column, "{b:02x}");
        }
        column.push('"');
        self
    }
}

/// Appends `v` as a double-quoted array element (`"` and `\` escaped).
fn quote(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The statements that apply `HEAD <rows> TAIL` to `rows` (none when
/// there are none): SQLite's `VALUES` in chunks of `per_statement` rows,
/// or PostgreSQL's one `SELECT * FROM UNNEST(…)` over arrays of `kinds`.
/// `push` writes one row's values in the order of `kinds`.
pub(super) fn statements<T>(
    backend: Backend,
    head: &str,
    kinds: &[Kind],
    rows: &[T],
    per_statement: usize,
    tail: &str,
    push: impl Fn(&mut dyn Values, &T),
) -> Vec<Query<'static, Any, AnyArguments>> {
    if rows.is_empty() {
        return Vec::new();
    }
    match backend {
        Backend::Sqlite => rows
            .chunks(per_statement)
            .map(|chunk| {
                let mut q: QueryBuilder<Any> = QueryBuilder::new(head);
                q.push_values(chunk, |mut b, row| push(&mut b, row));
                q.push(tail);
                numbered(backend, &mut q)
            })
            .collect(),
        Backend::Postgres => {
            let mut arrays = Arrays::new(kinds.len());
            for row in rows {
                push(&mut arrays, row);
            }
            let casts: Vec<String> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| format!("${}::{}", i + 1, k.array()))
                .collect();
            let sql = format!("{head}SELECT * FROM UNNEST({}){tail}", casts.join(", "));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for mut column in arrays.columns {
                column.push('}');
                q = q.bind(column);
            }
            vec![q]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_quote_text_null_and_bytes_per_column() {
        let mut a = Arrays::new(3);
        for (n, t) in [(Some(1), Some("a\"b\\c")), (None, None)] {
            a.int(n).text(t).bytes(&[0xde, 0x01]);
        }
        assert_eq!(
            a.columns,
            vec![
                "{1,NULL".to_owned(),
                "{\"a\\\"b\\\\c\",NULL".to_owned(),
                "{\"\\\\xde01\",\"\\\\xde01\"".to_owned(),
            ]
        );
    }
}
