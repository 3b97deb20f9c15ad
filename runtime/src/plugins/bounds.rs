//! How much a plugin may hand the hub in one answer or event. Every string
//! and list a plugin reports ends up in the registry, in the store and in
//! every client's frames, so each has a cap; the message names the field,
//! its size and the cap, for the plugin's author.

use super::bindings::hub::device::types::Instance;
use super::bindings::{Attribute, AttributeChange, Device, DeviceInfo, UpdateInfo, Value};

/// Identities, names and addresses.
pub const MAX_NAME: usize = 256;
/// Attribute names and instance types: machine names.
pub const MAX_KEY: usize = 64;
/// A text value, an update's URL or release notes.
pub const MAX_TEXT: usize = 4096;
pub const MAX_INSTANCES: usize = 64;
pub const MAX_ATTRIBUTES: usize = 128;
pub const MAX_CHOICES: usize = 64;
/// All of a device's text together: what one get_attributes answer may weigh.
pub const MAX_DEVICE_TEXT: usize = 256 << 10;
/// The most one event can hold: an identity, one attribute with its
/// choices and a text value at their caps, and the JSON around them.
pub const MAX_EVENT: usize = MAX_NAME + MAX_KEY * (MAX_CHOICES + 1) + MAX_TEXT + 512;

pub fn check_info(info: &DeviceInfo) -> Result<(), String> {
    if info.identity.is_empty() {
        return Err("an empty device identity".into());
    }
    check_identity(&info.identity)?;
    fits("name", &info.name, MAX_NAME)?;
    fits("model", &info.model, MAX_NAME)?;
    fits("manufacturer", &info.manufacturer, MAX_NAME)?;
    fits("address", &info.address, MAX_NAME)
}

pub fn check_device(device: &Device) -> Result<(), String> {
    check_info(&device.info)?;
    count("instances", device.instances.len(), MAX_INSTANCES)?;
    device.instances.iter().try_for_each(check_instance)?;
    let text: usize = device
        .instances
        .iter()
        .flat_map(|i| &i.attrs)
        .map(|a| {
            let choices: usize = a.meta.enum_values.iter().map(String::len).sum();
            let value = match &a.value {
                Value::Text(text) => text.len(),
                _ => 0,
            };
            a.name.len() + choices + value
        })
        .sum();
    if text > MAX_DEVICE_TEXT {
        return Err(format!(
            "{text} bytes of attribute names and values; the most is {MAX_DEVICE_TEXT}"
        ));
    }
    Ok(())
}

fn check_instance(instance: &Instance) -> Result<(), String> {
    key("instance type", &instance.kind)?;
    count(
        "attributes of one instance",
        instance.attrs.len(),
        MAX_ATTRIBUTES,
    )?;
    instance.attrs.iter().try_for_each(check_attribute)
}

fn check_attribute(attr: &Attribute) -> Result<(), String> {
    key("attribute name", &attr.name)?;
    check_value(&attr.name, &attr.value)?;
    count(
        "enum values of one attribute",
        attr.meta.enum_values.len(),
        MAX_CHOICES,
    )?;
    attr.meta
        .enum_values
        .iter()
        .try_for_each(|choice| key("enum value", choice))
}

/// A machine name (attribute, instance type, enum value): short, and
/// without characters that break or reorder a line where it is shown.
fn key(field: &str, value: &str) -> Result<(), String> {
    fits(field, value, MAX_KEY)?;
    plain(field, value)
}

fn plain(field: &str, value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(format!(
            "a {field} with control or bidi characters ({})",
            shorten(value)
        ));
    }
    Ok(())
}

/// Identities end up in every event, in the store and in the hub's log:
/// bounded, and without characters that break or reorder a line.
pub fn check_identity(identity: &str) -> Result<(), String> {
    fits("identity", identity, MAX_NAME)?;
    plain("identity", identity)
}

pub fn check_change(change: &AttributeChange) -> Result<(), String> {
    check_identity(&change.identity)?;
    check_attribute(&change.attribute)
}

pub fn check_update(update: &UpdateInfo) -> Result<(), String> {
    fits("current version", &update.current_version, MAX_KEY)?;
    let Some(firmware) = &update.latest_firmware else {
        return Ok(());
    };
    fits("firmware version", &firmware.version, MAX_KEY)?;
    fits("firmware url", &firmware.url, MAX_TEXT)?;
    fits("firmware info", &firmware.info, MAX_TEXT)
}

fn check_value(name: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Text(text) if text.len() > MAX_TEXT => Err(format!(
            "a value of {} bytes for {}; the most is {MAX_TEXT}",
            text.len(),
            shorten(name)
        )),
        _ => Ok(()),
    }
}

fn fits(field: &str, value: &str, most: usize) -> Result<(), String> {
    if value.len() <= most {
        return Ok(());
    }
    Err(format!(
        "a {field} of {} bytes ({}...); the most is {most}",
        value.len(),
        shorten(value)
    ))
}

fn count(what: &str, n: usize, most: usize) -> Result<(), String> {
    if n <= most {
        return Ok(());
    }
    Err(format!("{n} {what}; the most is {most}"))
}

/// `message` with control characters (newlines among them) and bidi
/// controls escaped, cut to about `most` bytes with a note of how much was
/// cut: what a plugin wrote, safe for one line of the hub's log.
pub fn one_line(message: &str, most: usize) -> String {
    let mut line = String::with_capacity(message.len().min(most) + 32);
    let mut taken = 0;
    for c in message.chars() {
        if line.len() >= most {
            break;
        }
        taken += c.len_utf8();
        if c.is_control() || is_bidi_control(c) {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    if taken < message.len() {
        line.push_str(&format!(" [{} more bytes cut]", message.len() - taken));
    }
    line
}

/// Characters that reorder the text around them on a terminal.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// The start of an over-long string, safe to put in a message.
fn shorten(value: &str) -> String {
    value
        .chars()
        .take(32)
        .flat_map(char::escape_debug)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::bindings::{Attribute, AttributeMeta, Permissions, ValType};

    fn device() -> Device {
        let attr = Attribute {
            name: "power".into(),
            value: Value::Text("on".into()),
            meta: AttributeMeta {
                val_type: ValType::Enum,
                min: None,
                max: None,
                enum_values: vec!["on".into(), "off".into()],
                permissions: Permissions::READ,
            },
        };
        Device {
            info: DeviceInfo {
                identity: "bulb-1".into(),
                name: "Bulb".into(),
                model: "color".into(),
                manufacturer: "Yeelight".into(),
                address: "192.168.1.20:55443".into(),
            },
            instances: vec![Instance {
                kind: "light_bulb".into(),
                instance_id: 0,
                attrs: vec![attr],
            }],
            ota_support: false,
        }
    }

    #[test]
    fn a_log_line_cannot_forge_another() {
        let forged = "ok\n2026-01-01T00:00:00Z  INFO hub: plugin yeelight approved\r\u{1b}[2K";
        let line = one_line(forged, 1024);
        assert!(
            !line.contains('\n') && !line.contains('\r') && !line.contains('\u{1b}'),
            "{line}"
        );
        assert!(line.starts_with("ok\\n2026"), "{line}");
        assert_eq!(one_line("a\u{202e}b", 100), "a\\u{202e}b");
    }

    #[test]
    fn a_long_line_is_cut_and_says_so() {
        let line = one_line(&"x".repeat(1 << 20), 1024);
        assert!(line.len() < 1100, "{}", line.len());
        assert!(line.ends_with("[1047552 more bytes cut]"), "{line}");
    }

    #[test]
    fn identities_cannot_break_or_reorder_a_line() {
        for bad in [
            "bulb\n2026 INFO hub: forged",
            "bulb\u{202e}lanigiro",
            "a\u{1b}[2K",
        ] {
            assert!(check_identity(bad).is_err(), "{bad:?}");
        }
        assert!(check_identity("0x0000000015243f00").is_ok());
        assert!(check_identity("Küche-Lampe 2").is_ok(), "not ASCII only");
    }

    #[test]
    fn an_event_is_capped_like_the_attribute_it_carries() {
        let mut attribute = device().instances[0].attrs[0].clone();
        let change = |attribute: Attribute| AttributeChange {
            identity: "bulb-1".into(),
            instance_id: 0,
            attribute,
        };
        assert_eq!(check_change(&change(attribute.clone())), Ok(()));
        attribute.meta.enum_values = vec!["x".into(); MAX_CHOICES + 1];
        let why = check_change(&change(attribute)).unwrap_err();
        assert!(why.contains("65 enum values"), "{why}");
        let mut forged = device().instances[0].attrs[0].clone();
        forged.name = "x\n2026 INFO hub: plugin approved".into();
        assert!(
            check_change(&change(forged))
                .unwrap_err()
                .contains("control")
        );
    }

    #[test]
    fn a_well_formed_device_passes() {
        assert_eq!(check_device(&device()), Ok(()));
    }

    #[test]
    fn each_oversized_field_is_named_with_its_cap() {
        let mut big_name = device();
        big_name.info.name = "x".repeat(100 << 20);
        let why = check_device(&big_name).unwrap_err();
        assert!(why.starts_with("a name of 104857600 bytes"), "{why}");
        assert!(why.len() < 200, "the message stays short: {why}");

        let mut big_value = device();
        big_value.instances[0].attrs[0].value = Value::Text("v".repeat(MAX_TEXT + 1));
        assert!(check_device(&big_value).unwrap_err().contains("for power"));

        let mut many = device();
        many.instances = vec![many.instances[0].clone(); MAX_INSTANCES + 1];
        assert!(check_device(&many).unwrap_err().contains("65 instances"));

        let mut heavy = device();
        let attrs = vec![heavy.instances[0].attrs[0].clone(); MAX_ATTRIBUTES];
        heavy.instances[0].attrs = attrs;
        for attr in &mut heavy.instances[0].attrs {
            attr.value = Value::Text("v".repeat(MAX_TEXT));
        }
        heavy.instances = vec![heavy.instances[0].clone(); 2];
        assert!(
            check_device(&heavy)
                .unwrap_err()
                .contains("bytes of attribute names and values")
        );

        let mut long_key = device();
        long_key.instances[0].attrs[0].name = "a".repeat(MAX_KEY + 1);
        assert!(
            check_device(&long_key)
                .unwrap_err()
                .contains("attribute name")
        );
    }
}
