//! String ids as newtypes: [`string_id!`](crate::string_id) declares one.
//!
//! Both sides name agents and checks (services) by string ids, and each
//! crate keeps its own id types so that one kind of id cannot be passed
//! where another is expected (a swapped argument is a compile error). The
//! macro is here, in the one crate both depend on, so the two crates'
//! ids behave the same and the code is written once.
//!
//! A declared id is built with `From<String>` / `From<&str>` where
//! construction is legitimate (config validation, store rows, the wire
//! edges), borrows as `str` (so `HashMap<Id, _>` answers `get("web")`),
//! displays and serializes as its plain string (by hand: serde's `rc`
//! feature is not on), and prints its `Debug` as the plain string's
//! (`"web"`), so messages and logs that quote an id read as they did when
//! ids were strings. The calling crate depends on `serde`.

/// Declares `pub struct $name(Arc<str>)`, a string id (see the module doc):
/// a clone shares the text (a million services' ids sit in several maps
/// each), the type is 16 bytes.
#[macro_export]
macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(::std::sync::Arc<str>);

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <String as ::serde::Deserialize>::deserialize(d).map(Self::from)
            }
        }

        impl $name {
            /// The id as text (for logs, SQL binds and the wire).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, consuming it.
            pub fn into_string(self) -> String {
                String::from(&*self.0)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// As the plain string's (`"web"`), so `{:?}` in messages and logs
        /// reads as it did when ids were strings.
        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.into_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }
    };
}
