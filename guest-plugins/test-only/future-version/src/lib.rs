//! TEST ONLY. Exports `hub:device/driver@0.9.0`, a version of the device
//! protocol no hub knows: installing it must be refused, naming it.

wit_bindgen::generate!({ path: "wit", world: "hub:device/plugin" });

struct Future;

impl exports::hub::device::driver::Guest for Future {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }
}

export!(Future);
