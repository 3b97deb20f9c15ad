//! What a plugin can import: the `hub:device/host` interface, and the WASI
//! interfaces a LAN driver needs, and `wasi:http` for plugins granted it.
//! Nothing else is linked, so a component importing more (filesystem, name
//! lookup, HTTP without the grant) fails to instantiate.

use super::bindings::{AttributeChange, LogLevel, OtaProgress};
use super::events::Emitted;
use super::state::HostState;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{Engine, StoreContextMut};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings::{cli, clocks, io, random, sockets};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

const HOST_INTERFACE: &str = "hub:device/host@0.1.0";

/// The linker for plugins granted outgoing HTTP is this one plus `wasi:http`.
pub fn plugin_linker(engine: &Engine, with_http: bool) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    add_wasi(&mut linker)?;
    add_host(&mut linker)?;
    if with_http {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    }
    Ok(linker)
}

struct IoTable;

impl HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

fn add_wasi(l: &mut Linker<HostState>) -> anyhow::Result<()> {
    type T = HostState;
    io::error::add_to_linker::<T, IoTable>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, IoTable>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, IoTable>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?;
    sockets::network::add_to_linker::<T, WasiSockets>(l, &Default::default(), T::sockets)?;
    sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    // The C library under Rust's std imports these even when a plugin never
    // reads a variable or prints a line; they are inert here: no variables,
    // no arguments, stdin at end of file, output discarded.
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}

fn add_host(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    let mut host = linker.instance(HOST_INTERFACE)?;
    host.func_wrap(
        "emit-attribute-change",
        |mut store: StoreContextMut<'_, HostState>, (change,): (AttributeChange,)| {
            let emitted = store.data().events.emit(change);
            refuel_unless_flooding(&mut store, emitted)
        },
    )?;
    host.func_wrap(
        "report-ota-progress",
        |mut store: StoreContextMut<'_, HostState>, (progress,): (OtaProgress,)| {
            let state = store.data();
            let emitted = state.events.progress(progress, state.ota.as_deref());
            refuel_unless_flooding(&mut store, emitted)
        },
    )?;
    host.func_wrap(
        "log",
        |store: StoreContextMut<'_, HostState>, (level, message): (LogLevel, String)| {
            let plugin = &*store.data().plugin;
            match level {
                LogLevel::Trace => tracing::trace!(plugin, "{message}"),
                LogLevel::Debug => tracing::debug!(plugin, "{message}"),
                LogLevel::Info => tracing::info!(plugin, "{message}"),
                LogLevel::Warn => tracing::warn!(plugin, "{message}"),
                LogLevel::Error => tracing::error!(plugin, "{message}"),
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// A flood is stopped where it starts: the instance traps (a watcher is
/// restarted after a back-off). Otherwise calls without a per-call budget
/// get their fuel back.
fn refuel_unless_flooding(
    store: &mut StoreContextMut<'_, HostState>,
    emitted: Emitted,
) -> wasmtime::Result<()> {
    if let Emitted::OverQuota(per_second) = emitted {
        return Err(wasmtime::Error::msg(format!(
            "emitted more than {per_second} events a second"
        )));
    }
    if let Some(fuel) = store.data().refuel {
        store.set_fuel(fuel)?;
    }
    Ok(())
}
