//! Which devices a client's token reaches. A token limited to areas (a
//! kitchen tablet: `areas = ["kitchen"]`) sees and controls only devices
//! an operator placed in one of them: a device in no area is outside every
//! limited token's reach, and a device's area is the hub's record, never
//! the plugin's word.

use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub enum Reach {
    /// Every device (tokens without `areas`).
    #[default]
    Everywhere,
    /// Devices placed in one of these areas only.
    Areas(Arc<[String]>),
}

impl Reach {
    pub fn from_config(areas: Option<&[String]>) -> Self {
        match areas {
            Some(areas) => Reach::Areas(areas.into()),
            None => Reach::Everywhere,
        }
    }

    /// May the token reach a device placed in `area`?
    pub fn allows(&self, area: Option<&str>) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Areas(areas) => area.is_some_and(|area| areas.iter().any(|a| a == area)),
        }
    }

    /// The areas, for error messages and `hello`; `None` for everywhere.
    pub fn areas(&self) -> Option<&[String]> {
        match self {
            Reach::Everywhere => None,
            Reach::Areas(areas) => Some(areas),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_token_reaches_only_devices_placed_in_its_areas() {
        let kitchen = Reach::from_config(Some(&["kitchen".to_string()]));
        assert!(kitchen.allows(Some("kitchen")));
        assert!(!kitchen.allows(Some("bedroom")));
        assert!(!kitchen.allows(None), "a device in no area is outside");
        assert!(!kitchen.allows(Some("Kitchen")), "areas compare exactly");
        assert!(!kitchen.allows(Some("")));
        let none = Reach::from_config(Some(&[]));
        assert!(!none.allows(Some("kitchen")), "no areas reaches nothing");
        assert!(Reach::Everywhere.allows(None));
    }
}
