//! What operators call devices and where they are: kept by the hub (in
//! SQLite, and here for every lookup), never written by a plugin, and
//! outliving the plugin's own reports, reloads and restarts.

use crate::error::{ErrorCode, HubError};
use crate::store::{Label, Store};
use crate::sync::{MutexHeld, RwLockHeld};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The longest name or area, in characters.
const MAX_TEXT: usize = 64;

/// Labels by plugin, then identity: looked up without building a key.
#[derive(Default)]
pub struct Labels {
    held: RwLock<HashMap<String, HashMap<String, Arc<Label>>>>,
    /// Changes take turns here, so that readers (every get_attributes,
    /// every event to an area-limited client) never wait for SQLite.
    changing: Mutex<()>,
    /// Whether any device was ever labelled: most hubs' reads need no lock.
    any: AtomicBool,
}

impl Labels {
    pub fn load(store: &Store) -> anyhow::Result<Self> {
        let mut labels: HashMap<String, HashMap<String, Arc<Label>>> = HashMap::new();
        for (plugin, identity, label) in store.labels()? {
            labels
                .entry(plugin)
                .or_default()
                .insert(identity, Arc::new(label));
        }
        Ok(Labels {
            any: AtomicBool::new(!labels.is_empty()),
            held: RwLock::new(labels),
            changing: Mutex::new(()),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, HashMap<String, Arc<Label>>>> {
        self.held.read_held()
    }

    pub fn get(&self, plugin: &str, identity: &str) -> Option<Arc<Label>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.read().get(plugin)?.get(identity).cloned()
    }

    /// Changes a device's label with `change`, checks it and keeps it:
    /// saved first (nothing is held that the store did not take), one
    /// change at a time, so that two at once both count.
    pub fn change(
        &self,
        store: &Store,
        plugin: &str,
        identity: &str,
        change: impl FnOnce(&mut Label),
    ) -> Result<Label, HubError> {
        let _turn = self.changing.held();
        let held = self.get(plugin, identity);
        let mut label = held.as_deref().cloned().unwrap_or_default();
        change(&mut label);
        check("name", label.name.as_deref())?;
        check("area", label.area.as_deref())?;
        store.put_label(plugin, identity, &label).map_err(|e| {
            HubError::new(ErrorCode::Internal, format!("cannot save the label: {e:#}"))
        })?;
        let mut labels = self.write();
        let of_plugin = labels.entry(plugin.to_string()).or_default();
        if label.is_empty() {
            of_plugin.remove(identity);
        } else {
            of_plugin.insert(identity.to_string(), Arc::new(label.clone()));
            self.any.store(true, Ordering::Release);
        }
        Ok(label)
    }

    /// Forgets a removed plugin's labels (the store drops them with it).
    pub fn forget(&self, plugin: &str) {
        self.write().remove(plugin);
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, HashMap<String, Arc<Label>>>> {
        self.held.write_held()
    }
}

/// A name or area people read: 1 to 64 characters, none of them a control
/// character or one that reorders text (a name must not read as another).
fn check(field: &str, text: Option<&str>) -> Result<(), HubError> {
    let Some(text) = text else {
        return Ok(());
    };
    let length = text.chars().count();
    let hidden = text.chars().find(|c| c.is_control() || reorders(*c));
    if length == 0 || length > MAX_TEXT || text.trim() != text {
        return Err(HubError::invalid(format!(
            "{field} {text:?}: use 1 to {MAX_TEXT} characters, without spaces around them"
        )));
    }
    if let Some(c) = hidden {
        return Err(HubError::invalid(format!(
            "{field} {text:?}: U+{:04X} is a control or text-direction character",
            c as u32
        )));
    }
    Ok(())
}

/// Unicode's explicit direction marks, embeddings, overrides and isolates.
fn reorders(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_areas_are_text_people_read_as_written() {
        assert!(check("name", Some("Kitchen lamp")).is_ok());
        assert!(check("area", Some("Küche")).is_ok());
        for bad in [
            "",
            " padded",
            "a\nb",
            "Lamp\u{202E}(approved)",
            "x\u{2066}y",
            &"x".repeat(65),
        ] {
            let e = check("name", Some(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad:?}");
        }
        assert!(
            check("name", None).is_ok(),
            "absent: the plugin's own name shows"
        );
    }
}
