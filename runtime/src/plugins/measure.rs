//! Measurements `hub bench` and `hub plugin test` take inside the sandbox,
//! where no request path reaches: a warm call, a fresh instance, an idle
//! instance, the fuel of one call.

use super::Plugin;
use super::instance::Instance;
use super::wit::{DeviceInfo, DeviceLimits, DeviceMeta};
use crate::error::{ErrorCode, HubError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A call whose fuel `hub plugin test` reports.
#[derive(Clone)]
pub enum Measured {
    Discover,
    GetAttributes(String),
    CheckUpdate(String),
}

impl Plugin {
    /// The fuel one call takes on a fresh instance (so that no earlier call
    /// shaped its heap); with the same devices and `HubSettings::under_test`,
    /// the same figure on every run.
    pub async fn fuel_on_fresh_instance(&self, measured: Measured) -> Result<u64, HubError> {
        let limits = &self.template.sandbox.limits;
        let deadline = match measured {
            Measured::Discover => limits.discover_deadline,
            _ => limits.call_deadline,
        };
        let budget = self.template.budget(deadline);
        let Some(fuel) = budget.fuel else {
            return Err(HubError::new(
                ErrorCode::Unsupported,
                "fuel is not metered in this hub",
            ));
        };
        let mut instance = self.template.start(budget).await?;
        let done = match measured {
            Measured::Discover => instance
                .discover(limits.discover_window, budget)
                .await
                .map(drop),
            Measured::GetAttributes(identity) => {
                let info = self.device(&identity)?.info;
                instance.read(&info, budget).await.map(drop)
            }
            Measured::CheckUpdate(identity) => {
                let info = self.device(&identity)?.info;
                instance.check_update(&info, budget).await.map(drop)
            }
        };
        done.map_err(|f| f.error)?;
        Ok(fuel - instance.fuel_left().min(fuel))
    }

    /// `calls` get_attributes calls on one warm instance; the time they took.
    pub async fn time_warm_calls(
        &self,
        device: &DeviceInfo,
        calls: u32,
    ) -> Result<Duration, HubError> {
        let device = Arc::new(device.clone());
        let budget = self.template.budget(Duration::from_secs(60));
        let mut instance = self.template.start(budget).await?;
        // The first read opens the device and declares its metadata.
        instance.read(&device, budget).await.map_err(|f| f.error)?;
        let started = Instant::now();
        for _ in 0..calls {
            instance.read(&device, budget).await.map_err(|f| f.error)?;
        }
        Ok(started.elapsed())
    }

    /// `calls` calls that carry next to nothing either way (set_attributes
    /// of nothing, on a device with empty fields): what crossing into the
    /// sandbox and back costs, without lowering or lifting a device.
    pub async fn time_empty_calls(&self, calls: u32) -> Result<Duration, HubError> {
        let nobody = Arc::new(DeviceInfo {
            identity: String::new(),
            name: String::new(),
            model: String::new(),
            manufacturer: String::new(),
            address: String::new(),
        });
        let nothing = DeviceMeta {
            instances: Vec::new(),
            attributes: Vec::new(),
            ota_support: false,
            limits: DeviceLimits {
                writes_per_minute: None,
            },
        };
        let budget = self.template.budget(Duration::from_secs(60));
        let mut instance = self.template.start(budget).await?;
        let mut write = async || instance.write(&nobody, &nothing, &[], budget).await;
        write().await.map_err(|f| f.error)?;
        let started = Instant::now();
        for _ in 0..calls {
            write().await.map_err(|f| f.error)?;
        }
        Ok(started.elapsed())
    }

    /// How long `count` instantiations from the pre-instantiated component
    /// take, without the plugin's init.
    pub async fn time_fresh_instances(&self, count: u32) -> Result<Duration, HubError> {
        let started = Instant::now();
        for _ in 0..count {
            Instance::bare(&self.template).await.map_err(|f| f.error)?;
        }
        Ok(started.elapsed())
    }

    /// `count` initialized instances, to hold while memory is measured.
    pub async fn idle_instances(&self, count: usize) -> Result<Vec<Instance>, HubError> {
        let mut held = Vec::with_capacity(count);
        for _ in 0..count {
            held.push(
                self.template
                    .start(self.template.budget(Duration::from_secs(60)))
                    .await?,
            );
        }
        Ok(held)
    }
}
