//! A real browser for the console's tests: Debian's headless Chromium,
//! driven over WebDriver by its chromedriver (installed by `cargo xtask
//! test` when missing; never downloaded). Screenshots are kept under
//! `target/console-screenshots/`.

use anyhow::{Context, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium through it.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // In a process group of its own, so that its browser goes with it.
        let mut driver = Command::new(xtask::CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "start {} (cargo xtask test installs it)",
                    xtask::CHROMEDRIVER
                )
            })?;
        let profile = tempfile::tempdir()?;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": xtask::CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let capabilities = capabilities.as_object().cloned().unwrap_or_default();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connecting = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match connecting {
                Ok(client) => break client,
                Err(e) if started.elapsed() > WAIT => {
                    let _ = driver.kill();
                    bail!("chromedriver did not start a browser: {e}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Opens the console at `hub` and signs in with `token`.
    pub async fn sign_in(&self, hub: std::net::SocketAddr, token: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("http://{hub}/")).await?;
        self.type_into("#token", token).await?;
        self.wait("#sign-in button").await?.click().await?;
        self.wait("#sign-out").await?;
        Ok(())
    }

    /// The element `css` selects, once the page shows it.
    pub async fn wait(&self, css: &str) -> anyhow::Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("the page never showed {css}"))
    }

    /// Types `text` into the field `css` selects, once the page shows it.
    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.wait(css).await?.send_keys(text).await?;
        Ok(())
    }

    /// Waits until the text of `css` satisfies `done`; that text.
    pub async fn wait_text(
        &self,
        css: &str,
        mut done: impl FnMut(&str) -> bool,
    ) -> anyhow::Result<String> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < WAIT {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                last = element.text().await.unwrap_or_default();
                if done(&last) {
                    return Ok(last);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("{css} never showed what was expected; it last read {last:?}")
    }

    /// Goes to the console's page `hash` (`#grants/yeelight`).
    pub async fn page(&self, hub: std::net::SocketAddr, hash: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("http://{hub}/{hash}")).await?;
        Ok(())
    }

    /// Scrolls the element `css` selects into view.
    pub async fn show(&self, css: &str) -> anyhow::Result<()> {
        let script = "document.querySelector(arguments[0]).scrollIntoView()";
        self.client.execute(script, vec![json!(css)]).await?;
        Ok(())
    }

    /// Saves the page as `target/console-screenshots/NAME.png`; its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = xtask::root().join("target/console-screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started, however the test ended.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
