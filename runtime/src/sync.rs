//! Locks that outlive a panic. A thread that panicked while holding one of
//! the hub's locks leaves data that is still whole (every critical section
//! writes in one step), so the hub carries on with it rather than turning
//! one plugin's bug into a panic on every later request.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub trait MutexHeld<T: ?Sized> {
    /// The lock, taken whether or not a panic poisoned it.
    fn held(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> MutexHeld<T> for Mutex<T> {
    fn held(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub trait RwLockHeld<T: ?Sized> {
    /// `read`, whether or not a panic poisoned the lock.
    fn read_held(&self) -> RwLockReadGuard<'_, T>;
    /// `write`, whether or not a panic poisoned the lock.
    fn write_held(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLockHeld<T> for RwLock<T> {
    fn read_held(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn write_held(&self) -> RwLockWriteGuard<'_, T> {
        self.write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_is_still_taken() {
        let lock = std::sync::Arc::new(Mutex::new(1));
        let held = lock.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(lock.is_poisoned());
        assert_eq!(*lock.held(), 1);
    }
}
