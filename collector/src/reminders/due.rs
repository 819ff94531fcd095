//! When a request's next reminder is due, pure: reminders fall every
//! `every` after the request opened (`opened + n × every`); the next is
//! the first such time after the last one sent. A collector that was down
//! through several periods thus sends one on its return (the slot that
//! passed), then waits for the next slot, never a burst.

/// When the next reminder is due for a request opened at `opened_ms`,
/// reminded every `every_ms` (> 0), last at `last_ms` (`None`: never).
pub fn next_due(opened_ms: i64, every_ms: i64, last_ms: Option<i64>) -> i64 {
    let every = every_ms.max(1);
    match last_ms {
        None => opened_ms.saturating_add(every),
        Some(last) => {
            let periods = (last - opened_ms).max(0) / every + 1;
            opened_ms.saturating_add(periods.saturating_mul(every))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_due;

    const H: i64 = 3_600_000;

    #[test]
    fn the_first_is_one_period_after_opening() {
        assert_eq!(next_due(1000, 4 * H, None), 1000 + 4 * H);
    }

    #[test]
    fn the_next_is_the_slot_after_the_last_one_sent() {
        assert_eq!(next_due(0, 4 * H, Some(4 * H)), 8 * H);
        assert_eq!(
            next_due(0, 4 * H, Some(4 * H + 20)),
            8 * H,
            "a late send keeps the slots"
        );
    }

    #[test]
    fn a_return_after_several_periods_skips_to_the_next_slot() {
        // Down from 3h to 13h: one reminder at 13h, the next at 16h.
        assert_eq!(next_due(0, 4 * H, Some(13 * H)), 16 * H);
    }
}
