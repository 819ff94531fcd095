//! How a recheck round ended, as the metrics count it.

/// How a recheck round with votes ended (`picket_recheck_rounds_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundOutcome {
    /// The quorum failed: the failure is confirmed.
    Confirmed,
    /// Some agents failed, not the quorum.
    Local,
    /// Every voter succeeded.
    Recovered,
}

impl RoundOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RoundOutcome::Confirmed => "confirmed",
            RoundOutcome::Local => "local",
            RoundOutcome::Recovered => "recovered",
        }
    }
}
