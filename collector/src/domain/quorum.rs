//! The quorum rule of a recheck round: pure, table-tested.

use std::fmt;
use std::str::FromStr;

/// How many of the agents that answered a round must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quorum {
    /// More than half of the agents that answered.
    Majority,
    /// Every agent that answered.
    All,
    /// At least one agent.
    Any,
    /// At least this many agents; when fewer answered, all of them. A monitor
    /// must not hide an outage because agents are missing, so the number is
    /// capped by the number of answers.
    AtLeast(u32),
}

impl Quorum {
    /// Whether `agreeing` votes out of `answered` reach the quorum. No
    /// answers never reach it.
    pub fn reached(self, agreeing: usize, answered: usize) -> bool {
        if answered == 0 || agreeing == 0 {
            return false;
        }
        match self {
            Quorum::Majority => agreeing * 2 > answered,
            Quorum::All => agreeing == answered,
            Quorum::Any => true,
            Quorum::AtLeast(n) => agreeing >= (n as usize).min(answered),
        }
    }
}

impl fmt::Display for Quorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quorum::Majority => f.write_str("majority"),
            Quorum::All => f.write_str("all"),
            Quorum::Any => f.write_str("any"),
            Quorum::AtLeast(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for Quorum {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "majority" => Ok(Quorum::Majority),
            "all" => Ok(Quorum::All),
            "any" => Ok(Quorum::Any),
            n => match n.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(Quorum::AtLeast(n)),
                _ => Err(format!(
                    "quorum must be \"majority\", \"all\", \"any\" or a number of at least 1, not {s:?}"
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: Quorum, agreeing: usize, answered: usize, expected: bool) {
        assert_eq!(
            rule.reached(agreeing, answered),
            expected,
            "{rule} with {agreeing}/{answered}"
        );
    }

    #[test]
    fn decisions() {
        use Quorum::*;
        check(Majority, 1, 1, true);
        check(Majority, 1, 2, false);
        check(Majority, 2, 3, true);
        check(Majority, 1, 3, false);
        check(Majority, 2, 4, false);
        check(Majority, 3, 4, true);
        check(All, 3, 3, true);
        check(All, 2, 3, false);
        check(Any, 1, 3, true);
        check(Any, 0, 3, false);
        check(AtLeast(2), 2, 3, true);
        check(AtLeast(2), 1, 3, false);
        check(AtLeast(2), 1, 1, true);
        check(AtLeast(3), 2, 2, true);
        for rule in [Majority, All, Any, AtLeast(1)] {
            check(rule, 0, 0, false);
        }
    }

    #[test]
    fn parses() {
        assert_eq!("majority".parse::<Quorum>(), Ok(Quorum::Majority));
        assert_eq!("all".parse::<Quorum>(), Ok(Quorum::All));
        assert_eq!("any".parse::<Quorum>(), Ok(Quorum::Any));
        assert_eq!("2".parse::<Quorum>(), Ok(Quorum::AtLeast(2)));
        assert!("0".parse::<Quorum>().is_err());
        assert!("most".parse::<Quorum>().is_err());
    }
}
