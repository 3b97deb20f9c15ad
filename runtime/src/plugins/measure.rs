//! Measurements `hub bench` takes inside the sandbox, where no request
//! path reaches: a warm call, a fresh instance, an idle instance.

use super::Plugin;
use super::bindings::DeviceInfo;
use super::instance::{Call, Instance};
use crate::error::HubError;
use std::time::{Duration, Instant};

impl Plugin {
    /// `calls` get_attributes calls on one warm instance; the time they took.
    pub async fn time_warm_calls(
        &self,
        device: &DeviceInfo,
        calls: u32,
    ) -> Result<Duration, HubError> {
        let budget = self.budget(Duration::from_secs(60));
        let mut instance = self.instance(budget).await?;
        let started = Instant::now();
        for _ in 0..calls {
            instance
                .call(Call::GetAttributes(device.clone()), budget)
                .await
                .map_err(|f| f.error)?;
        }
        Ok(started.elapsed())
    }

    /// How long `count` instantiations from the pre-instantiated component
    /// take, without the plugin's init.
    pub async fn time_fresh_instances(&self, count: u32) -> Result<Duration, HubError> {
        let started = Instant::now();
        for _ in 0..count {
            Instance::bare(&self.engine, &self.pre, &self.sandbox)
                .await
                .map_err(|f| f.error)?;
        }
        Ok(started.elapsed())
    }

    /// `count` initialized instances, to hold while memory is measured.
    pub async fn idle_instances(&self, count: usize) -> Result<Vec<Instance>, HubError> {
        let mut held = Vec::with_capacity(count);
        for _ in 0..count {
            held.push(self.instance(self.budget(Duration::from_secs(60))).await?);
        }
        Ok(held)
    }
}
