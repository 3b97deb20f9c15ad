//! What a plugin can import: the `hub:device/host` interface of every
//! released version, and the WASI interfaces `caps::imports::WASI` lists
//! (`wasi:http` only for plugins granted it; the filesystem and name lookup
//! inert). Nothing else is linked, so a component importing more fails to
//! instantiate.

use super::bounds;
use super::events::Emitted;
use super::state::HostState;
use super::wit::{self, LogLevel};
use crate::caps::budget::LogAdmission;
use crate::caps::imports::{self, Need};
use wasmtime::Engine;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, io, random, sockets};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

/// The linker for plugins granted outgoing HTTP is this one plus `wasi:http`.
pub fn plugin_linker(engine: &Engine, with_http: bool) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    for (interface, need) in imports::WASI {
        if need != Need::Http || with_http {
            link(&mut linker, interface)?;
        }
    }
    wit::add_hosts(&mut linker)?;
    Ok(linker)
}

struct IoTable;

impl HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links one interface of `caps::imports::WASI`.
fn link(l: &mut Linker<HostState>, interface: &str) -> wasmtime::Result<()> {
    type T = HostState;
    match interface {
        "wasi:io/error" => io::error::add_to_linker::<T, IoTable>(l, |t| t.ctx().table),
        "wasi:io/poll" => io::poll::add_to_linker::<T, IoTable>(l, |t| t.ctx().table),
        "wasi:io/streams" => io::streams::add_to_linker::<T, IoTable>(l, |t| t.ctx().table),
        "wasi:clocks/wall-clock" => {
            clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)
        }
        "wasi:clocks/monotonic-clock" => {
            clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)
        }
        "wasi:random/random" => random::random::add_to_linker::<T, WasiRandom>(l, T::random),
        "wasi:random/insecure" => random::insecure::add_to_linker::<T, WasiRandom>(l, T::random),
        "wasi:random/insecure-seed" => {
            random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)
        }
        "wasi:cli/environment" => cli::environment::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/exit" => cli::exit::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/stdin" => cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/stdout" => cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/stderr" => cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-input" => cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-output" => cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-stdin" => cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-stdout" => cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:cli/terminal-stderr" => cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli),
        "wasi:sockets/network" => {
            sockets::network::add_to_linker::<T, WasiSockets>(l, &Default::default(), T::sockets)
        }
        "wasi:sockets/instance-network" => {
            sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        "wasi:sockets/tcp" => sockets::tcp::add_to_linker::<T, WasiSockets>(l, T::sockets),
        "wasi:sockets/tcp-create-socket" => {
            sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        "wasi:sockets/udp" => sockets::udp::add_to_linker::<T, WasiSockets>(l, T::sockets),
        "wasi:sockets/udp-create-socket" => {
            sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        // No directory is preopened: nothing can be opened (caps::imports::WASI).
        "wasi:filesystem/types" => {
            filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)
        }
        "wasi:filesystem/preopens" => {
            filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)
        }
        // Switched off in every plugin's context: each lookup fails.
        "wasi:sockets/ip-name-lookup" => {
            sockets::ip_name_lookup::add_to_linker::<T, WasiSockets>(l, T::sockets)
        }
        // With its `types`; every request goes through the hub's own sender.
        "wasi:http/outgoing-handler" => wasmtime_wasi_http::p2::add_only_http_to_linker_async(l),
        other => Err(wasmtime::Error::msg(format!(
            "the hub has no implementation of {other} to link"
        ))),
    }
}

/// A flood is stopped where it starts: the instance traps (a watcher is
/// restarted after a back-off).
pub fn stop_a_flood(emitted: Emitted) -> wasmtime::Result<()> {
    match emitted {
        Emitted::OverQuota(why) => Err(wasmtime::Error::msg(why)),
        Emitted::Accepted | Emitted::Dropped => Ok(()),
    }
}

/// The longest log line a plugin may write; the rest is cut.
const MAX_LOG_LINE: usize = 1024;

/// Writes the plugin's line on one line of the hub's log, escaped so that
/// it cannot forge lines of its own, within the plugin's rate of lines and
/// bytes; lines over the rate are counted and the count said with the next.
pub fn log(state: &HostState, level: LogLevel, message: &str) {
    let plugin = state.plugin();
    let dropped = match state
        .sandbox
        .budget
        .admit_log(message.len().min(MAX_LOG_LINE) as u64)
    {
        LogAdmission::Drop => {
            state.sandbox.audit.quota(plugin, "log_lines_per_second");
            return;
        }
        LogAdmission::Write { dropped_before } => dropped_before,
    };
    if dropped > 0 {
        tracing::warn!(
            plugin,
            dropped,
            "plugin logged over its budget: lines dropped"
        );
    }
    let line = bounds::one_line(message, MAX_LOG_LINE);
    match level {
        LogLevel::Trace => tracing::trace!(plugin, "{line}"),
        LogLevel::Debug => tracing::debug!(plugin, "{line}"),
        LogLevel::Info => tracing::info!(plugin, "{line}"),
        LogLevel::Warn => tracing::warn!(plugin, "{line}"),
        LogLevel::Error => tracing::error!(plugin, "{line}"),
    }
}
