//! `[metrics]`: what `/metrics` exposes. `probe_series` is `"agent"` (the
//! default: blackbox_exporter's `probe_*` gauges per service and agent) or
//! `"service"` (one series per service, its latest result over its
//! agents, without the agent labels: for large installations).

use super::ConfigError;
use super::raw::RawMetrics;
use super::source::Source;

/// How the `probe_*` families are cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProbeSeries {
    /// One series per (service, agent), labelled `agent` and `region`.
    #[default]
    Agent,
    /// One series per service: the latest result of its agents.
    Service,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSection {
    pub probe_series: ProbeSeries,
}

/// Checks `[metrics]`.
pub(super) fn validate(src: &Source, m: &RawMetrics) -> Result<MetricsSection, ConfigError> {
    let probe_series = match &m.probe_series {
        None => ProbeSeries::default(),
        Some(v) => match v.get_ref().as_str() {
            "agent" => ProbeSeries::Agent,
            "service" => ProbeSeries::Service,
            other => {
                return src.err(
                    &v.span(),
                    format!(
                        "probe_series: {other:?} is not one of \"agent\" (a series per service and agent) or \"service\" (one per service)"
                    ),
                );
            }
        },
    };
    Ok(MetricsSection { probe_series })
}
