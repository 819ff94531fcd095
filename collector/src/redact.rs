//! Secrets never print: [`debug_redacted!`] writes the `Debug` impl of a
//! struct that holds tokens, credentials or passwords, showing its other
//! fields and only whether each secret is set.
//!
//! Every struct holding a secret (config sections, settings, hellos,
//! welcomes, check specs with basic auth) uses it instead of
//! `#[derive(Debug)]`, so that a `?value` in a log line or a panic message
//! cannot leak what the configuration or an agent gave us.

use std::fmt;

/// A secret as `Debug` shows it: `"<redacted>"`, or `None` / `""` when
/// there is none.
pub struct Redacted<'a, T: ?Sized>(pub &'a T);

/// Whether a secret holds anything worth hiding.
pub trait Secret {
    fn is_set(&self) -> bool;
}

impl Secret for String {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
}

impl Secret for Vec<u8> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
}

impl<T: Secret> Secret for Option<T> {
    fn is_set(&self) -> bool {
        self.as_ref().is_some_and(Secret::is_set)
    }
}

impl<T: Secret> Secret for toml::Spanned<T> {
    fn is_set(&self) -> bool {
        self.get_ref().is_set()
    }
}

/// Request headers of a check: values may be API keys.
impl Secret for std::collections::BTreeMap<String, String> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
}

/// A basic-auth pair `(user, password)`: the user is hidden with it.
impl Secret for (String, String) {
    fn is_set(&self) -> bool {
        true
    }
}

impl<T: Secret + ?Sized> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_set() {
            "<redacted>"
        } else {
            "None"
        })
    }
}

/// `debug_redacted!(Type { plain, fields } secret { token, password })`:
/// `Debug` for `Type`, printing the plain fields and [`Redacted`] secrets.
macro_rules! debug_redacted {
    ($ty:ident { $($field:ident),* $(,)? } secret { $($secret:ident),+ $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &$crate::redact::Redacted(&self.$secret)))+
                    .finish()
            }
        }
    };
}
pub(crate) use debug_redacted;

#[cfg(test)]
mod tests {
    struct Login {
        user: String,
        token: String,
        password: Option<String>,
        hmac: Option<Vec<u8>>,
    }
    debug_redacted!(Login { user } secret { token, password, hmac });

    #[test]
    fn secrets_show_only_whether_they_are_set() {
        let login = Login {
            user: "ops".into(),
            token: "tok-123".into(),
            password: None,
            hmac: Some(vec![1, 2]),
        };
        assert_eq!(
            format!("{login:?}"),
            r#"Login { user: "ops", token: <redacted>, password: None, hmac: <redacted> }"#
        );
    }
}
