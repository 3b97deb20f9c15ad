//! The `residue` attack: looks through the whole of its instance's linear
//! memory for a secret that an earlier instance left there, then leaves one
//! itself, in the heap, in a static and down the stack, so that every kind
//! of page the hub recycles between instances holds a copy.

/// Byte `k` of the secret. It is computed, never stored, so that looking
/// for it puts no copy of it in memory.
fn secret(k: usize) -> u8 {
    ((k * 131 + 7) % 251) as u8 ^ 0x3c
}

/// The secret's bytes compared at each candidate place.
const WINDOW: usize = 64;
/// Spans pages, and more than the hub keeps resident of a freed slot.
const HEAP_COPY: usize = 256 << 10;
/// The stack is planted frame by frame down to this address.
const STACK_FLOOR: usize = 48 << 10;

static mut IN_STATIC: [u8; 16 << 10] = [0; 16 << 10];

/// How many places of this instance's memory hold the secret; then plants it.
pub fn found_then_plant() -> i64 {
    let found = count();
    let heap: Vec<u8> = (0..HEAP_COPY).map(secret).collect();
    std::mem::forget(heap);
    // SAFETY: a plugin instance runs one call at a time; nothing else
    // touches this static.
    let in_static = unsafe { &mut *std::ptr::addr_of_mut!(IN_STATIC) };
    fill(in_static);
    std::hint::black_box(in_static);
    plant_stack(0);
    found
}

/// The size of the instance's linear memory (nothing to search when the
/// plugin's unit tests run on the host).
fn memory_size() -> usize {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0) * 65536;
    #[cfg(not(target_arch = "wasm32"))]
    0
}

fn count() -> i64 {
    let size = memory_size();
    let byte = |at: usize| {
        // SAFETY: every address below the memory's size is readable in
        // wasm; this attack reads all of its own memory on purpose.
        unsafe { std::ptr::read_volatile(std::ptr::with_exposed_provenance::<u8>(at)) }
    };
    let mut found = 0;
    let mut at = 8;
    while at + WINDOW < size {
        if (0..WINDOW).all(|k| byte(at + k) == secret(k)) {
            found += 1;
            at += WINDOW;
        } else {
            at += 1;
        }
    }
    found
}

fn fill(bytes: &mut [u8]) {
    for (k, b) in bytes.iter_mut().enumerate() {
        *b = secret(k);
    }
}

/// Rust keeps large locals in linear memory: each frame leaves a copy, and
/// the frames reach down towards the stack's end (or as deep as 64 frames).
fn plant_stack(depth: usize) {
    let mut frame = [0u8; 8 << 10];
    fill(&mut frame);
    let frame = std::hint::black_box(&mut frame);
    if (frame.as_ptr() as usize) > STACK_FLOOR && depth < 64 {
        plant_stack(depth + 1);
    }
    std::hint::black_box(frame);
}
