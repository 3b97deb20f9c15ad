//! Where a request's answers go: the connection's outbox, tagged with the
//! request's id. Every service answers through one.

use super::outbox::Outbox;
use super::render::{self, Api};
use crate::error::HubError;

pub struct Responder {
    id: i64,
    outbox: Outbox,
    api: Api,
}

impl Responder {
    pub fn new(id: i64, outbox: Outbox, api: Api) -> Self {
        Responder { id, outbox, api }
    }

    /// The API version the client speaks: how values are written.
    pub fn api(&self) -> Api {
        self.api
    }

    pub fn send(&self, result: Result<impl serde::Serialize, HubError>) {
        let frame = match result {
            Ok(result) => render::success(self.id, &result),
            Err(error) => render::failure(Some(self.id), &error),
        };
        self.outbox.push(frame);
    }

    pub fn fail(&self, error: HubError) {
        self.send(Err::<(), _>(error));
    }
}
