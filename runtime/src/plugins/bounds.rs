//! How much a plugin may hand the hub in one answer or event. Every string
//! and list a plugin reports ends up in the registry, in the store and in
//! every client's frames, so each has a cap; the message names the field,
//! its size and the cap, for the plugin's author.

use super::wit::{AttributeMeta, DeviceInfo, DeviceMeta, InstanceMeta, UpdateInfo, Value};

/// Identities, names and addresses.
pub const MAX_NAME: usize = 256;
/// Attribute names and instance types: machine names.
pub const MAX_KEY: usize = 64;
/// A text value, an update's URL or release notes.
pub const MAX_TEXT: usize = 4096;
pub const MAX_INSTANCES: usize = 64;
/// Attributes of one instance.
pub const MAX_ATTRIBUTES: usize = 128;
pub const MAX_CHOICES: usize = 64;
/// All of a device's metadata text together, and all its text values
/// together: what one get_attributes answer may weigh is twice this.
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

/// A device's declared shape: every instance it names, every attribute of
/// a declared instance.
pub fn check_meta(meta: &DeviceMeta) -> Result<(), String> {
    count("instances", meta.instances.len(), MAX_INSTANCES)?;
    meta.instances.iter().try_for_each(check_instance)?;
    let mut ids = std::collections::HashSet::new();
    if let Some(twice) = meta.instances.iter().find(|i| !ids.insert(i.instance_id)) {
        return Err(format!("instance {} declared twice", twice.instance_id));
    }
    let mut names = std::collections::HashSet::new();
    if let Some(twice) = meta
        .attributes
        .iter()
        .find(|a| !names.insert((a.instance_id, a.name.as_str())))
    {
        return Err(format!(
            "attribute {} of instance {} declared twice",
            shorten(&twice.name),
            twice.instance_id
        ));
    }
    let text: usize = meta.instances.iter().map(|i| i.kind.len()).sum::<usize>()
        + meta.attributes.iter().map(meta_text).sum::<usize>();
    if text > MAX_DEVICE_TEXT {
        return Err(format!(
            "{text} bytes of instance types and attribute metadata; the most is {MAX_DEVICE_TEXT}"
        ));
    }
    for instance in &meta.instances {
        let attrs = meta
            .attributes
            .iter()
            .filter(|a| a.instance_id == instance.instance_id)
            .count();
        count("attributes of one instance", attrs, MAX_ATTRIBUTES)?;
    }
    for attribute in &meta.attributes {
        if !meta
            .instances
            .iter()
            .any(|i| i.instance_id == attribute.instance_id)
        {
            return Err(format!(
                "attribute {} of instance {}, which it does not declare",
                shorten(&attribute.name),
                attribute.instance_id
            ));
        }
        check_attribute_meta(attribute)?;
    }
    Ok(())
}

/// The text of one attribute's metadata: its name, choices and labels.
fn meta_text(a: &AttributeMeta) -> usize {
    let labels = [&a.unit, &a.device_class].map(|l| l.as_ref().map_or(0, String::len));
    a.name.len()
        + a.enum_values.iter().map(String::len).sum::<usize>()
        + labels.iter().sum::<usize>()
}

/// Values read against the metadata they belong to: one per attribute,
/// within the caps on text. (A value of another type than declared reaches
/// the client as the plugin sent it: `hub plugin test` tells its author.)
pub fn check_values(meta: &DeviceMeta, values: &[Value]) -> Result<(), String> {
    if values.len() != meta.attributes.len() {
        return Err(format!(
            "{} values for the {} attributes it declares",
            values.len(),
            meta.attributes.len()
        ));
    }
    let mut text = 0;
    for (attribute, value) in meta.attributes.iter().zip(values) {
        check_value(&attribute.name, value)?;
        if let Value::Text(value) = value {
            text += value.len();
        }
    }
    if text > MAX_DEVICE_TEXT {
        return Err(format!(
            "{text} bytes of text values; the most is {MAX_DEVICE_TEXT}"
        ));
    }
    Ok(())
}

fn check_instance(instance: &InstanceMeta) -> Result<(), String> {
    key("instance type", &instance.kind)
}

fn check_attribute_meta(attr: &AttributeMeta) -> Result<(), String> {
    key("attribute name", &attr.name)?;
    let bounds = [attr.min, attr.max];
    if let Some(bound) = bounds.into_iter().flatten().find(|b| !b.is_finite()) {
        return Err(format!(
            "a bound of {bound} for {}, which is not a finite number",
            shorten(&attr.name)
        ));
    }
    count(
        "enum values of one attribute",
        attr.enum_values.len(),
        MAX_CHOICES,
    )?;
    attr.enum_values
        .iter()
        .try_for_each(|choice| key("enum value", choice))?;
    let labels = [("unit", &attr.unit), ("device class", &attr.device_class)];
    labels
        .into_iter()
        .filter_map(|(field, label)| Some((field, label.as_deref()?)))
        .try_for_each(|(field, label)| key(field, label))
}

/// An attribute as a 0.1 event carries it, whole.
pub fn check_attribute(attr: &AttributeMeta, value: &Value) -> Result<(), String> {
    check_attribute_meta(attr)?;
    check_value(&attr.name, value)
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

pub fn check_update(update: &UpdateInfo) -> Result<(), String> {
    fits("current version", &update.current_version, MAX_KEY)?;
    let Some(firmware) = &update.latest_firmware else {
        return Ok(());
    };
    fits("firmware version", &firmware.version, MAX_KEY)?;
    fits("firmware url", &firmware.url, MAX_TEXT)?;
    fits("firmware info", &firmware.info, MAX_TEXT)
}

pub fn check_value(name: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Text(text) if text.len() > MAX_TEXT => Err(format!(
            "a value of {} bytes for {}; the most is {MAX_TEXT}",
            text.len(),
            shorten(name)
        )),
        // JSON has no NaN or infinity: clients would get null.
        Value::Float(f) if !f.is_finite() => Err(format!(
            "{f} for {}, which is not a finite number",
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
    use crate::plugins::wit::{DeviceLimits, Permissions, ValType};

    fn power() -> AttributeMeta {
        AttributeMeta {
            instance_id: 0,
            name: "power".into(),
            val_type: ValType::Enum,
            min: None,
            max: None,
            enum_values: vec!["on".into(), "off".into()],
            permissions: Permissions::READ,
            unit: None,
            device_class: None,
        }
    }

    fn bulb() -> DeviceMeta {
        DeviceMeta {
            instances: vec![InstanceMeta {
                instance_id: 0,
                kind: "light_bulb".into(),
            }],
            attributes: vec![power()],
            ota_support: false,
            limits: DeviceLimits {
                writes_per_minute: None,
            },
        }
    }

    fn on() -> Vec<Value> {
        vec![Value::Text("on".into())]
    }

    fn info() -> DeviceInfo {
        DeviceInfo {
            identity: "bulb-1".into(),
            name: "Bulb".into(),
            model: "color".into(),
            manufacturer: "Yeelight".into(),
            address: "192.168.1.20:55443".into(),
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
        let value = Value::Text("on".into());
        assert_eq!(check_attribute(&power(), &value), Ok(()));
        let mut many = power();
        many.enum_values = vec!["x".into(); MAX_CHOICES + 1];
        let why = check_attribute(&many, &value).unwrap_err();
        assert!(why.contains("65 enum values"), "{why}");
        let mut forged = power();
        forged.name = "x\n2026 INFO hub: plugin approved".into();
        assert!(
            check_attribute(&forged, &value)
                .unwrap_err()
                .contains("control")
        );
        let mut unit = power();
        unit.unit = Some("%\u{202e}".into());
        assert!(check_attribute(&unit, &value).unwrap_err().contains("unit"));
    }

    #[test]
    fn a_well_formed_device_passes() {
        assert_eq!(check_info(&info()), Ok(()));
        assert_eq!(check_meta(&bulb()), Ok(()));
        assert_eq!(check_values(&bulb(), &on()), Ok(()));
    }

    #[test]
    fn values_must_match_the_declared_attributes() {
        let why = check_values(&bulb(), &[]).unwrap_err();
        assert!(why.contains("0 values for the 1 attributes"), "{why}");
        let mut stray = bulb();
        stray.attributes[0].instance_id = 7;
        assert!(check_meta(&stray).unwrap_err().contains("instance 7"));
    }

    #[test]
    fn numbers_json_cannot_carry_are_refused() {
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(check_value("level", &Value::Float(f)).is_err(), "{f}");
            let mut bounded = bulb();
            bounded.attributes[0].max = Some(f);
            assert!(
                check_meta(&bounded)
                    .unwrap_err()
                    .contains("not a finite number")
            );
        }
        assert!(check_value("level", &Value::Float(f64::MAX)).is_ok());
    }

    #[test]
    fn each_oversized_field_is_named_with_its_cap() {
        let mut big_name = info();
        big_name.name = "x".repeat(100 << 20);
        let why = check_info(&big_name).unwrap_err();
        assert!(why.starts_with("a name of 104857600 bytes"), "{why}");
        assert!(why.len() < 200, "the message stays short: {why}");

        let big_value = [Value::Text("v".repeat(MAX_TEXT + 1))];
        let mut text = bulb();
        text.attributes[0].val_type = ValType::String;
        text.attributes[0].enum_values.clear();
        assert!(
            check_values(&text, &big_value)
                .unwrap_err()
                .contains("for power")
        );

        let mut many = bulb();
        many.instances = vec![many.instances[0].clone(); MAX_INSTANCES + 1];
        assert!(check_meta(&many).unwrap_err().contains("65 instances"));

        let mut crowded = bulb();
        crowded.attributes = (0..=MAX_ATTRIBUTES)
            .map(|n| AttributeMeta {
                name: format!("a{n}"),
                ..power()
            })
            .collect();
        assert!(
            check_meta(&crowded)
                .unwrap_err()
                .contains("129 attributes of one instance")
        );

        let mut heavy = text.clone();
        heavy.attributes = vec![text.attributes[0].clone(); 2 * MAX_ATTRIBUTES];
        let values = vec![Value::Text("v".repeat(MAX_TEXT)); 2 * MAX_ATTRIBUTES];
        assert!(
            check_values(&heavy, &values)
                .unwrap_err()
                .contains("bytes of text values")
        );

        let mut twice = bulb();
        twice.instances.push(twice.instances[0].clone());
        let why = check_meta(&twice).unwrap_err();
        assert!(why.contains("instance 0 declared twice"), "{why}");
        let mut twice = bulb();
        twice.attributes.push(power());
        let why = check_meta(&twice).unwrap_err();
        assert!(why.contains("power of instance 0 declared twice"), "{why}");
        let mut wordy = bulb();
        wordy.instances = (0..MAX_INSTANCES as u32)
            .map(|instance_id| InstanceMeta {
                instance_id,
                kind: "k".into(),
            })
            .collect();
        wordy.attributes = (0..MAX_INSTANCES as u32)
            .flat_map(|instance_id| {
                (0..MAX_ATTRIBUTES).map(move |n| AttributeMeta {
                    instance_id,
                    name: format!("attribute-{n}"),
                    enum_values: (0..MAX_CHOICES).map(|c| format!("choice-{c}")).collect(),
                    ..power()
                })
            })
            .collect();
        let why = check_meta(&wordy).unwrap_err();
        assert!(
            why.contains("bytes of instance types and attribute metadata"),
            "{why}"
        );

        let mut long_key = bulb();
        long_key.attributes[0].name = "a".repeat(MAX_KEY + 1);
        assert!(
            check_meta(&long_key)
                .unwrap_err()
                .contains("attribute name")
        );
    }
}
