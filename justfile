# Shortcuts; each recipe is a plain cargo command, so `just` is optional.

# Simulated bulbs and a hub that may reach only them.
demo *ARGS:
    cargo xtask demo {{ARGS}}

# Build the guest plugins, then run every test.
test *ARGS:
    cargo xtask test {{ARGS}}

# The side-by-side benchmark (release build); `just bench --quick` for a short run.
bench *ARGS:
    cargo xtask bench {{ARGS}}

# What CI runs.
ci:
    bash .ci/run

# Build the guest plugins (wasm32-wasip2) into target/guests.
guests:
    cargo xtask build-guests

fmt:
    cargo fmt --all
    cd guest-plugins && cargo fmt --all
