use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = hub::cli::Cli::parse();
    let default_level = cli.default_log_level();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(hub::cli::run(cli))
}
