//! `ApiError` and its one mapping to `tonic::Status`.

use tonic::Status;

use crate::evaluator::CheckNowError;
use crate::maintenance::MaintenanceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("missing or wrong bearer token")]
    Unauthenticated,
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
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

impl From<crate::agents::StateError> for ApiError {
    fn from(e: crate::agents::StateError) -> Self {
        use crate::agents::StateError;
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
            ApiError::Unauthenticated => Status::unauthenticated(e.to_string()),
            ApiError::Unavailable(m) => Status::unavailable(m),
            ApiError::Internal(m) => Status::internal(m),
        }
    }
}
