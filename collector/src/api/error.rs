//! `ApiError` and its one mapping to `tonic::Status`.
//!
//! Every error a call can meet (store, actor handles, a bad request field)
//! becomes an `ApiError` first; `Status` is made from `ApiError` only. The
//! errors of the store and the handles also convert to `Status` directly
//! (through `ApiError`), so the service's methods can use `?` on them.

use tonic::Status;

use super::convert::BadField;
use crate::agents::StateError;
use crate::evaluator::CheckNowError;
use crate::maintenance::MaintenanceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The call cannot apply to the object as it is (a closed request).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A request message with an unusable field.
    #[error(transparent)]
    BadField(#[from] BadField),
    #[error("missing or wrong bearer token")]
    Unauthenticated,
    /// Admin calls with no `admin_token` configured: refused, never open.
    #[error("admin calls are disabled: set admin_token in [collector]")]
    AdminDisabled,
    /// The caller's address failed to authenticate too often.
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::AlreadyClosed(_) | StoreError::NotAcknowledgeable { .. } => {
                ApiError::FailedPrecondition(e.to_string())
            }
            StoreError::Stopped => ApiError::Unavailable(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<MaintenanceError> for ApiError {
    fn from(e: MaintenanceError) -> Self {
        match e {
            MaintenanceError::UnknownEquipment(_) => ApiError::NotFound(e.to_string()),
            MaintenanceError::NotInMaintenance(_) | MaintenanceError::ZeroDuration => {
                ApiError::Invalid(e.to_string())
            }
            MaintenanceError::Store(e) => e.into(),
            MaintenanceError::Stopped => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::UnknownAgent(_) => ApiError::NotFound(e.to_string()),
            StateError::Store(e) => e.into(),
            StateError::Stopped => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<CheckNowError> for ApiError {
    fn from(e: CheckNowError) -> Self {
        match e {
            CheckNowError::UnknownService(_) => ApiError::NotFound(e.to_string()),
            CheckNowError::NoAgents(_) | CheckNowError::Stopped => {
                ApiError::Unavailable(e.to_string())
            }
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e {
            ApiError::NotFound(m) => Status::not_found(m),
            ApiError::Invalid(m) => Status::invalid_argument(m),
            ApiError::FailedPrecondition(m) => Status::failed_precondition(m),
            ApiError::BadField(e) => Status::invalid_argument(e.to_string()),
            ApiError::Unauthenticated => Status::unauthenticated(e.to_string()),
            ApiError::AdminDisabled => Status::permission_denied(e.to_string()),
            ApiError::RateLimited(m) => Status::resource_exhausted(m),
            ApiError::Unavailable(m) => Status::unavailable(m),
            ApiError::Internal(m) => Status::internal(m),
        }
    }
}

/// `Status` from each error that has an `ApiError`, through it.
macro_rules! status_through_api_error {
    ($($error:ty),+) => {$(
        impl From<$error> for Status {
            fn from(e: $error) -> Status {
                ApiError::from(e).into()
            }
        }
    )+};
}

status_through_api_error!(
    StoreError,
    MaintenanceError,
    StateError,
    CheckNowError,
    BadField
);

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn errors_map_to_codes_once() {
        let not_found = || StoreError::NotFound("service \"shop\"".into());
        #[rustfmt::skip]
        let cases: [(Status, Code, &str); 15] = [
            (not_found().into(), Code::NotFound, "service \"shop\" not found"),
            (StoreError::AlreadyClosed(7.into()).into(), Code::FailedPrecondition,
                "request 7 is already closed"),
            (StoreError::UnsupportedUrl("x".into()).into(), Code::Internal,
                "unsupported database URL \"x\" (use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE)"),
            (MaintenanceError::UnknownEquipment("r1".into()).into(), Code::NotFound,
                "unknown equipment \"r1\""),
            (MaintenanceError::NotInMaintenance("r1".into()).into(), Code::InvalidArgument,
                "equipment \"r1\" is not in maintenance"),
            (MaintenanceError::ZeroDuration.into(), Code::InvalidArgument,
                "duration must be more than 0s"),
            (MaintenanceError::Store(not_found()).into(), Code::NotFound,
                "service \"shop\" not found"),
            (MaintenanceError::Stopped.into(), Code::Unavailable, "the maintenance actor stopped"),
            (StateError::UnknownAgent("a1".into()).into(), Code::NotFound, "unknown agent \"a1\""),
            (StateError::Stopped.into(), Code::Unavailable, "the agents actor stopped"),
            (CheckNowError::NoAgents("shop".into()).into(), Code::Unavailable,
                "no live agent probes service \"shop\""),
            (ApiError::Unauthenticated.into(), Code::Unauthenticated,
                "missing or wrong bearer token"),
            (ApiError::AdminDisabled.into(), Code::PermissionDenied,
                "admin calls are disabled: set admin_token in [collector]"),
            (ApiError::RateLimited("slow down".into()).into(), Code::ResourceExhausted, "slow down"),
            (BadField { field: "duration_ms", reason: "too long".into() }.into(),
                Code::InvalidArgument, "duration_ms: too long"),
        ];
        for (i, (status, code, message)) in cases.into_iter().enumerate() {
            assert_eq!(
                (status.code(), status.message()),
                (code, message),
                "case {i}"
            );
        }
    }
}
