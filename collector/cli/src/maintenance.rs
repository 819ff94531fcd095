//! `maintenance start|end EQUIPMENT`: maintenance windows of an equipment
//! (`--mode pause|mute`).

use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;
use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::{convert, render};

/// Start or end a window.
#[derive(Subcommand, Clone)]
pub enum Action {
    Start {
        equipment: String,
        /// How long, e.g. 30m, 4h, 1h30m (default: maintenance.default_duration).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<Duration>,
        #[arg(long, default_value = "")]
        reason: String,
        /// pause: stop probing (state `maintenance`); mute: keep probing,
        /// hold requests and webhooks until the window ends.
        #[arg(long, default_value = "pause", value_parser = ["pause", "mute"])]
        mode: String,
    },
    End {
        equipment: String,
    },
    /// Running windows, and every recurring window with its next start.
    List,
}

/// `maintenance start|end`: the window as it is afterwards.
pub async fn run(client: &mut Client, action: Action, json: bool) -> anyhow::Result<String> {
    let window = match action {
        Action::Start {
            equipment,
            duration,
            reason,
            mode,
        } => {
            if duration == Some(Duration::ZERO) {
                bail!("--for must be more than 0s");
            }
            // 0 asks the collector for maintenance.default_duration.
            let duration_ms = duration.map_or(0, |d| d.as_millis() as u64);
            let request = pb::StartMaintenanceRequest {
                equipment,
                duration_ms,
                reason,
                mode,
            };
            answer(client.start_maintenance(request)).await?
        }
        Action::End { equipment } => {
            answer(client.end_maintenance(pb::EndMaintenanceRequest { equipment })).await?
        }
        Action::List => {
            let list = answer(client.list_maintenance(pb::ListMaintenanceRequest {})).await?;
            return render::object(&convert::maintenance_list(&list), json);
        }
    };
    render::object(&convert::maintenance(&window), json)
}

/// `--for`: a duration as the collector's config writes them (`1500ms`,
/// `30m`, `1h30m`).
use picket_proto::contract::text::parse_duration;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn parses_durations_like_the_config() {
        let check = |input: &str, expected: Option<Duration>| {
            assert_eq!(super::parse_duration(input).ok(), expected, "{input:?}");
        };
        check("30m", Some(Duration::from_secs(1800)));
        check(" 1h30m ", Some(Duration::from_secs(5400)));
        check("1500ms", Some(Duration::from_millis(1500)));
        check("0s", Some(Duration::ZERO));
        check("4", None);
        check("soon", None);
        // Longer would wrap in `as_millis() as u64`.
        check("36500d", Some(Duration::from_secs(100 * 365 * 24 * 3600)));
        check("10000000000000000000s", None);
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        let err = super::parse_duration("0x").err().unwrap_or_default();
        assert!(err.starts_with("invalid duration \"0x\" ("), "{err}");
        assert!(
            err.ends_with("; write e.g. 1500ms, 2s, 10m, 4h, 1h30m"),
            "{err}"
        );
    }
}
