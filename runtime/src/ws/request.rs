//! A request frame, read once: its envelope (id, domain, service, identity,
//! service_data) checked here, what the service needs checked by the
//! service.

use crate::error::{ErrorCode, HubError};
use serde_json::{Map, Value as Json};

/// A request whose envelope is valid; what the service needs is checked by the service.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: i64,
    pub domain: Option<String>,
    pub service: String,
    pub identity: Option<String>,
    pub service_data: Map<String, Json>,
}

/// Why a frame is not a request, with the id to answer when it had a usable one.
#[derive(Debug)]
pub struct Rejected {
    pub id: Option<i64>,
    pub error: HubError,
}

/// A well-formed request, read straight into its fields.
#[derive(serde::Deserialize)]
struct WellFormed<'a> {
    id: i64,
    #[serde(borrow)]
    service: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    domain: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    identity: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    service_data: Option<Map<String, Json>>,
}

impl Request {
    /// Most frames are well formed and read in one pass into the request;
    /// any other is read again as a JSON tree, to say exactly what is wrong.
    pub fn parse(text: &str) -> Result<Request, Rejected> {
        // Only an object: serde would read a struct from an array too.
        let object = text.trim_start().starts_with('{');
        match serde_json::from_str::<WellFormed>(text)
            .ok()
            .filter(|_| object)
        {
            Some(frame) => Ok(Request {
                id: frame.id,
                domain: frame.domain.filter(|d| !d.is_empty()).map(Into::into),
                service: frame.service.into(),
                identity: frame.identity.map(Into::into),
                service_data: frame.service_data.unwrap_or_default(),
            }),
            None => Self::explain(text),
        }
    }

    fn explain(text: &str) -> Result<Request, Rejected> {
        let value: Json = serde_json::from_str(text)
            .map_err(|e| reject(None, format!("the frame is not valid JSON: {e}")))?;
        let Json::Object(mut frame) = value else {
            return Err(reject(None, "a request is a JSON object".into()));
        };
        let id = match frame.get("id") {
            None | Some(Json::Null) => return Err(reject(None, "\"id\" is required".into())),
            Some(id) => id
                .as_i64()
                .ok_or_else(|| reject(None, format!("\"id\" must be an integer, not {id}")))?,
        };
        let text_field = |frame: &mut Map<String, Json>, name: &str| match frame.remove(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(other) => Err(reject(
                Some(id),
                format!("\"{name}\" must be a string, not {other}"),
            )),
        };
        let service = text_field(&mut frame, "service")?
            .ok_or_else(|| reject(Some(id), "\"service\" is required".into()))?;
        let domain = text_field(&mut frame, "domain")?.filter(|d| !d.is_empty());
        let identity = text_field(&mut frame, "identity")?;
        let service_data = match frame.remove("service_data") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(data)) => data,
            Some(other) => {
                return Err(reject(
                    Some(id),
                    format!("\"service_data\" must be an object, not {other}"),
                ));
            }
        };
        Ok(Request {
            id,
            domain,
            service,
            identity,
            service_data,
        })
    }
}

fn reject(id: Option<i64>, message: String) -> Rejected {
    Rejected {
        id,
        error: HubError::new(ErrorCode::InvalidFormat, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(text: &str) -> Rejected {
        Request::parse(text).unwrap_err()
    }

    #[test]
    fn parses_a_seed_request() {
        let r = Request::parse(
            r#"{"id":1,"domain":"yeelight","service":"get_attributes","identity":"0x1"}"#,
        )
        .unwrap();
        assert_eq!(
            (
                r.id,
                r.domain.as_deref(),
                r.service.as_str(),
                r.identity.as_deref()
            ),
            (1, Some("yeelight"), "get_attributes", Some("0x1"))
        );
    }

    #[test]
    fn rejects_bad_envelopes_with_the_id_when_usable() {
        assert!(rejected("{").error.message.contains("not valid JSON"));
        assert!(rejected("[1]").error.message.contains("JSON object"));
        let array = rejected(r#"[1,"list","plugin",null,{}]"#);
        assert!(
            array.error.message.contains("JSON object"),
            "{:?}",
            array.error
        );
        assert!(
            rejected(r#"{"service":"discover"}"#)
                .error
                .message
                .contains("\"id\" is required")
        );
        assert!(
            rejected(r#"{"id":"7","service":"discover"}"#)
                .error
                .message
                .contains("integer")
        );
        assert!(
            rejected(r#"{"id":1.5,"service":"discover"}"#)
                .error
                .message
                .contains("integer")
        );
        let no_service = rejected(r#"{"id":9}"#);
        assert_eq!(no_service.id, Some(9));
        assert_eq!(rejected(r#"{"id":9,"service":3}"#).id, Some(9));
        assert_eq!(
            rejected(r#"{"id":9,"service":"x","service_data":[]}"#)
                .error
                .code,
            ErrorCode::InvalidFormat
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(rejected(&deep).error.code, ErrorCode::InvalidFormat);
    }
}
