//! Which database engine a `database` URL selects, and the one dialect
//! point every statement shares: placeholders.
//!
//! `sqlite:FILE` opens SQLite (created when missing); `postgres://` or
//! `postgresql://` opens PostgreSQL, the URL passed to sqlx as written (so
//! `?sslmode=disable|prefer|require|verify-ca|verify-full` applies). The
//! store writes `$1..$n` placeholders in its few-parameter statements,
//! which both engines accept; a `QueryBuilder` over sqlx's `Any` driver
//! writes `?` for each bind, which PostgreSQL rejects, so every built query
//! goes through [`numbered`], which renumbers them for PostgreSQL only.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Execute, QueryBuilder};

use super::{Result, StoreError};

/// The engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine behind an open connection.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The engine `url` selects, and the URL to connect with (SQLite's gets
    /// `mode=rwc`, create when missing, unless it has options of its own).
    pub fn parse(url: &str) -> Result<(Backend, String)> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let url = if rest.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            return Ok((Backend::Sqlite, url));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok((Backend::Postgres, url.to_owned()));
        }
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// Checks a `database` URL as the configuration gives it: the engine it
/// selects, or why it is wrong (the scheme, or PostgreSQL options such as
/// an unknown `sslmode`), in words that follow the URL in an error.
pub fn check_url(url: &str) -> std::result::Result<Backend, String> {
    match Backend::parse(url) {
        Ok((Backend::Postgres, url)) => {
            <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
                .map(|_| Backend::Postgres)
                .map_err(|e| format!("is not a usable PostgreSQL URL: {e}"))
        }
        Ok((backend, _)) => Ok(backend),
        Err(_) => Err(format!("is not supported (use {URL_FORMS})")),
    }
}

/// The URL forms a `database` may take, for error messages.
pub const URL_FORMS: &str = "sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

/// Builds `q` for `backend`: on PostgreSQL its `?` placeholders become
/// `$1..$n` (in order; a `?` inside a quoted literal or identifier is left
/// alone). SQLite keeps the anonymous `?`: there every named placeholder
/// (`$n`) costs sqlx a `sqlite3_bind_parameter_name` lookup, a scan of all
/// of them, so a multi-row insert of 14,000 binds would cost 10^8 steps.
pub fn numbered(backend: Backend, q: &mut QueryBuilder<Any>) -> Query<'static, Any, AnyArguments> {
    let mut built = q.build();
    let arguments = built.take_arguments().ok().flatten().unwrap_or_default();
    let sql = match backend {
        Backend::Postgres => renumber(built.sql().as_str()),
        Backend::Sqlite => built.sql().as_str().to_owned(),
    };
    sqlx::query_with(AssertSqlSafe(sql), arguments)
}

/// `?` → `$1..$n` outside `'…'` and `"…"`.
fn renumber(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quote: Option<char> = None;
    let mut n = 0;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumber_numbers_placeholders_outside_quotes() {
        assert_eq!(
            renumber("SELECT '?', \"a?\" FROM t WHERE a = ? AND b IN (?, ?)"),
            "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(
            renumber("x = 'it''s?' AND y = ?"),
            "x = 'it''s?' AND y = $1"
        );
    }

    #[test]
    fn urls_select_the_engine() {
        let (b, url) = Backend::parse("sqlite:/tmp/p.db").unwrap();
        assert_eq!(
            (b, url.as_str()),
            (Backend::Sqlite, "sqlite:/tmp/p.db?mode=rwc")
        );
        for url in [
            "postgres://u:p@127.0.0.1:5432/picket",
            "postgresql://u@localhost/picket?sslmode=require",
        ] {
            assert_eq!(
                Backend::parse(url).unwrap(),
                (Backend::Postgres, url.to_owned())
            );
        }
        let err = Backend::parse("mysql://x/y").unwrap_err().to_string();
        assert!(
            err.contains("mysql://x/y") && err.contains("postgres://"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_sslmode_is_refused_when_checked() {
        assert_eq!(
            check_url("postgres://u@h/db?sslmode=verify-full"),
            Ok(Backend::Postgres)
        );
        let err = check_url("postgres://u@h/db?sslmode=sometimes").unwrap_err();
        assert!(err.contains("sometimes"), "{err}");
        assert_eq!(check_url("sqlite://x.db"), Ok(Backend::Sqlite));
        assert!(check_url("mysql://x").unwrap_err().contains("postgres://"));
    }
}
