//! What is monitored, gathered across the main file and the files it
//! includes: every `[[equipment]]` and `[[services]]`, file by file in the
//! order they are read.
//!
//! The cross-file rules live here: ids are unique over all the files (a
//! second definition of a service id names where the first one is), and a
//! service names equipment defined before it (in the main file, or in its
//! own or an earlier included file). Each service runs with its own check
//! options over the main file's `[defaults]`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ConfigError;
use super::parts::Checked;
use super::raw::{RawEquipment, RawService};
use super::services::{self, Equipment, ServiceConfig};
use super::source::Source;
use crate::domain::ServiceId;

#[derive(Default)]
pub(super) struct Catalog {
    pub equipment: Vec<Equipment>,
    pub services: Vec<ServiceConfig>,
    equipment_seen: HashSet<String>,
    /// Where each service id is defined: its file (an index in `files`)
    /// and the byte offset of the id in it.
    service_at: HashMap<String, (usize, usize)>,
    files: Vec<PathBuf>,
}

impl Catalog {
    /// Adds one file's equipment, then its services, which `checked`
    /// holds checked on their own (`super::parts::check`).
    pub fn add(
        &mut self,
        src: &Source,
        equipment: &[RawEquipment],
        services: &[RawService],
        checked: Checked,
    ) -> Result<(), ConfigError> {
        let Checked {
            services: checked,
            mut failed,
        } = checked;
        let mut checked = checked.into_iter();
        let file = self.files.len();
        self.files.push(src.file.to_owned());
        let equipment = services::equipment(src, equipment, &mut self.equipment_seen)?;
        self.equipment.extend(equipment);
        self.services.reserve(services.len());
        for s in services {
            let id: ServiceId = src.id("service", &s.id)?;
            let at = s.id.span().start;
            if let Some(&(first_file, first_at)) = self.service_at.get(s.id.get_ref()) {
                let first = self.place(src, first_file, first_at);
                return src.err(
                    &s.id.span(),
                    format!("service id {id:?} is defined twice (first at {first})"),
                );
            }
            self.service_at.insert(s.id.get_ref().clone(), (file, at));
            if !self.equipment_seen.contains(s.equipment.get_ref()) {
                return src.err(
                    &s.equipment.span(),
                    format!(
                        "service {id:?}: unknown equipment {:?} (add an [[equipment]] with that id)",
                        s.equipment.get_ref()
                    ),
                );
            }
            match (checked.next(), failed.take()) {
                (Some(service), failed_later) => {
                    failed = failed_later;
                    self.services.push(service);
                }
                (None, Some(e)) => return Err(e),
                (None, None) => unreachable!("a service neither checked nor failed"),
            }
        }
        Ok(())
    }

    /// `FILE:LINE` of byte `at` in file `file`: from `src` if that is the
    /// file, else read again (only an error comes here).
    fn place(&self, src: &Source, file: usize, at: usize) -> String {
        let path = &self.files[file];
        if path == src.file {
            return format!("{}:{}", path.display(), src.line_of(&(at..at)));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let line = Source {
                    file: path,
                    text: &text,
                }
                .line_of(&(at..at));
                format!("{}:{line}", path.display())
            }
            Err(_) => path.display().to_string(),
        }
    }
}

/// Reads an included file.
pub(super) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: None,
        key: None,
        reason: format!("cannot read: {e}"),
    })
}
