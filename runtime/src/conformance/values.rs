//! What the harness expects of attribute values: that each matches its
//! declared metadata, and which values it writes to test a round trip or
//! a refusal.

use crate::plugins::{AttributeMeta, Permissions, ValType, Value, type_name};

/// One attribute as read: its declared metadata and its value.
pub type Attr<'a> = (&'a AttributeMeta, &'a Value);

/// A value as a client sees it in JSON: `"80"`, `80`, `true`.
pub fn shown(value: &Value) -> String {
    crate::ws::render::value(value).to_string()
}

/// Why `attr` does not match its own metadata, if it does not.
pub fn mismatch((meta, value): Attr) -> Option<String> {
    let name = &meta.name;
    if !meta.permissions.contains(Permissions::READ) {
        return Some(format!(
            "{name} is reported but not declared readable: declare it readable, or leave it out"
        ));
    }
    let declared = type_name(meta.val_type);
    let number = match (value, meta.val_type) {
        (Value::Int(i), ValType::Int | ValType::Float) => Some(*i as f64),
        (Value::Float(f), ValType::Float) => Some(*f),
        (Value::Boolean(_), ValType::Bool) | (Value::Text(_), ValType::String) => None,
        (Value::Text(t), ValType::Enum) => {
            return (!meta.enum_values.contains(t)).then(|| {
                format!(
                    "{name} is {t:?}, not one of its declared values {:?}: report one of them, or declare this one",
                    meta.enum_values
                )
            });
        }
        (other, _) => {
            return Some(format!(
                "{name} is declared {declared} but its value is {}: report a value of the declared type, or declare the type the device has",
                shown(other)
            ));
        }
    };
    let number = number?;
    let below = meta.min.is_some_and(|min| number < min);
    let above = meta.max.is_some_and(|max| number > max);
    (below || above).then(|| {
        format!(
            "{name} is {number}, outside its declared range {:?}..={:?}: widen the range to what the device reports",
            meta.min, meta.max
        )
    })
}

/// A valid value other than the current one, for a round trip; `None`
/// when the metadata leaves no other choice.
pub fn another_value((meta, value): Attr) -> Option<Value> {
    let within = |x: f64| meta.min.is_none_or(|m| x >= m) && meta.max.is_none_or(|m| x <= m);
    match (value, meta.val_type) {
        (Value::Boolean(b), _) => Some(Value::Boolean(!b)),
        // Actions such as `toggle` do not read back as themselves.
        (Value::Text(current), ValType::Enum) => meta
            .enum_values
            .iter()
            .find(|v| *v != current && v.as_str() != "toggle")
            .map(|v| Value::Text(v.clone())),
        (Value::Text(current), _) => Some(Value::Text(format!("{current}-hub-test"))),
        (Value::Int(i), _) => [i + 1, i - 1]
            .into_iter()
            .find(|x| within(*x as f64))
            .map(Value::Int),
        (Value::Float(f), _) => [f + 1.0, f - 1.0]
            .into_iter()
            .find(|x| within(*x))
            .map(Value::Float),
    }
}

/// A value the attribute's metadata forbids.
pub fn invalid_value((meta, _): Attr) -> Value {
    match meta.val_type {
        ValType::Int => match meta.max {
            Some(max) => Value::Int(max as i64 + 1),
            None => Value::Text("not a number".into()),
        },
        ValType::Float => match meta.max {
            Some(max) if max < f64::MAX => Value::Float(max + 1.0),
            _ => Value::Text("not a number".into()),
        },
        ValType::Enum => Value::Text("no-such-choice".into()),
        ValType::Bool => Value::Text("maybe".into()),
        ValType::String => Value::Int(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(
        value: Value,
        val_type: ValType,
        range: Option<(f64, f64)>,
        enums: &[&str],
    ) -> (AttributeMeta, Value) {
        let meta = AttributeMeta {
            instance_id: 0,
            name: "a".into(),
            val_type,
            min: range.map(|r| r.0),
            max: range.map(|r| r.1),
            enum_values: enums.iter().map(|e| e.to_string()).collect(),
            permissions: Permissions::READ | Permissions::WRITE,
            unit: None,
            device_class: None,
        };
        (meta, value)
    }

    fn pair(attr: &(AttributeMeta, Value)) -> Attr<'_> {
        (&attr.0, &attr.1)
    }

    fn mismatch_of(
        value: Value,
        val_type: ValType,
        range: Option<(f64, f64)>,
        enums: &[&str],
    ) -> Option<String> {
        mismatch(pair(&attr(value, val_type, range, enums)))
    }

    #[test]
    fn values_must_match_their_metadata() {
        let percent = Some((1.0, 100.0));
        assert_eq!(mismatch_of(Value::Int(5), ValType::Int, percent, &[]), None);
        assert!(mismatch_of(Value::Int(101), ValType::Int, percent, &[]).is_some());
        assert!(mismatch_of(Value::Text("5".into()), ValType::Int, None, &[]).is_some());
        let on_off = &["on", "off"];
        assert!(mismatch_of(Value::Text("dim".into()), ValType::Enum, None, on_off).is_some());
        assert_eq!(
            mismatch_of(Value::Text("on".into()), ValType::Enum, None, on_off),
            None
        );
    }

    #[test]
    fn round_trips_pick_another_valid_value_and_refusals_an_invalid_one() {
        let power = attr(
            Value::Text("on".into()),
            ValType::Enum,
            None,
            &["on", "toggle", "off"],
        );
        assert_eq!(another_value(pair(&power)), Some(Value::Text("off".into())));
        let top = attr(Value::Int(100), ValType::Int, Some((1.0, 100.0)), &[]);
        assert_eq!(another_value(pair(&top)), Some(Value::Int(99)));
        assert_eq!(invalid_value(pair(&top)), Value::Int(101));
        let pinned = attr(Value::Int(3), ValType::Int, Some((3.0, 3.0)), &[]);
        assert_eq!(another_value(pair(&pinned)), None);
        assert_eq!(
            invalid_value(pair(&power)),
            Value::Text("no-such-choice".into())
        );
    }
}
