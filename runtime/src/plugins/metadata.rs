//! The metadata step of every device call, in one place: what a device's
//! handle in an instance declared is checked against the hub's bounds,
//! kept by the registry (shared while it is unchanged) and by that
//! instance; a read's values are paired with it and checked, and those a
//! client or the watcher asked for are remembered as the device's last
//! known state.

use super::bounds;
use super::instance::{Budget, CallFailure, Instance};
use super::state::Sandbox;
use super::wit::{DeviceInfo, DeviceMeta, Reading, Value};
use crate::error::{ErrorCode, HubError};
use std::sync::Arc;

/// How a handle that has declared nothing yet is asked for its metadata:
/// before a watch by `describe`, as the protocol says; before a write by a
/// read, which every plugin answers.
#[derive(Clone, Copy)]
pub enum Ask {
    Describe,
    Read,
}

/// Pairs a reading with the metadata its instance's handle declared: the
/// new one it carries, or the one before.
pub fn accept(
    sandbox: &Sandbox,
    instance: &mut Instance,
    identity: &str,
    reading: Reading,
) -> Result<(Arc<DeviceMeta>, Vec<Value>), CallFailure> {
    let Reading { meta, values } = reading;
    let fits = |meta: &DeviceMeta| {
        bounds::check_values(meta, &values).map_err(|why| refused(sandbox, "get_attributes", &why))
    };
    let meta = match meta {
        Some(meta) => {
            fits(&meta)?;
            declare(sandbox, instance, identity, meta, "get_attributes")?
        }
        None => {
            let meta = instance.declared(identity).ok_or_else(|| {
                refused(
                    sandbox,
                    "get_attributes",
                    "values but no metadata, and its device has declared none",
                )
            })?;
            fits(&meta)?;
            meta
        }
    };
    Ok((meta, values))
}

/// The device answered a read: its values are its last known state, and
/// it is online (one lock for both, on the hottest path).
pub fn remember(sandbox: &Sandbox, identity: &str, meta: &Arc<DeviceMeta>, values: &[Value]) {
    let events = &sandbox.events;
    if events.registry.remember(identity, meta, values) {
        events.announce(identity, super::Availability::Online);
    }
}

/// The metadata the device's handle in `instance` declared; a handle that
/// has not declared any is asked, which declares it.
pub async fn declared(
    sandbox: &Sandbox,
    instance: &mut Instance,
    info: &Arc<DeviceInfo>,
    budget: Budget,
    ask: Ask,
) -> Result<Arc<DeviceMeta>, CallFailure> {
    if let Some(meta) = instance.declared(&info.identity) {
        return Ok(meta);
    }
    let identity = &info.identity;
    match ask {
        Ask::Describe => {
            let meta = instance.describe(info, budget).await?;
            declare(sandbox, instance, identity, meta, "describe")
        }
        Ask::Read => {
            let reading = instance.read(info, budget).await?;
            accept(sandbox, instance, identity, reading).map(|(meta, _)| meta)
        }
    }
}

/// Checks what an instance's handle declared, keeps it in the registry
/// (shared with what was declared before when it is the same) and
/// remembers it as that instance's.
fn declare(
    sandbox: &Sandbox,
    instance: &mut Instance,
    identity: &str,
    meta: DeviceMeta,
    call: &str,
) -> Result<Arc<DeviceMeta>, CallFailure> {
    bounds::check_meta(&meta).map_err(|why| refused(sandbox, call, &why))?;
    let meta = sandbox.events.registry.learn(identity, meta);
    instance.declare(identity, meta.clone());
    Ok(meta)
}

/// An answer past the hub's caps, or out of step with what the device
/// declared, fails the call: the plugin is at fault.
pub fn answered_badly(plugin: &str, call: &str, why: &str) -> HubError {
    HubError::new(
        ErrorCode::PluginFailed,
        format!("plugin {plugin} answered {call} with {why}"),
    )
}

/// The same, for a call whose instance stays as it was.
fn refused(sandbox: &Sandbox, call: &str, why: &str) -> CallFailure {
    CallFailure::refused(answered_badly(&sandbox.plugin, call, why))
}
