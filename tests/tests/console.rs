//! The operator's console in a real browser (Debian's headless Chromium
//! over WebDriver): signing in, approving and revoking grants rule by
//! rule, devices and OTA, the audit log, and the browser protections.
//! Each test keeps screenshots under `target/console-screenshots/`.

use hub_tests::browser::Browser;
use hub_tests::{HubOptions, TOKEN, TestHub};
use serde_json::json;

/// Removes the Yeelight plugin and installs it again by upload in the
/// console, as a fresh install: every rule it asks for waits for an operator.
async fn upload_pending(hub: &TestHub, browser: &Browser) -> anyhow::Result<()> {
    tokio::task::block_in_place(|| hub.hub.remove("tests", "yeelight"))?;
    browser.page(hub.addr, "#plugins").await?;
    let component = xtask::guest("yeelight")?;
    let manifest = xtask::manifest("yeelight")?;
    for (input, file) in [
        ("#upload-component", component),
        ("#upload-manifest", manifest),
    ] {
        let path = file.to_str().unwrap_or_default().to_string();
        browser.type_into(input, &path).await?;
    }
    let config = format!("discovery={}", hub.sim.discovery_addr());
    browser.type_into("#upload-config", &config).await?;
    browser.wait("#upload button").await?.click().await?;
    let result = browser
        .wait_text("#upload-result", |t| {
            t.starts_with("Installed") || t.contains(':')
        })
        .await?;
    assert!(result.starts_with("Installed yeelight 0.1.0."), "{result}");
    assert!(result.contains("It waits for approval"), "{result}");
    Ok(())
}

/// A test hub and a browser signed in to its console as the operator.
async fn signed_in() -> anyhow::Result<(TestHub, Browser)> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let browser = Browser::start().await?;
    browser.sign_in(hub.addr, TOKEN).await?;
    Ok((hub, browser))
}

/// Opens the devices page and discovers.
async fn discover(hub: &TestHub, browser: &Browser) -> anyhow::Result<()> {
    browser.page(hub.addr, "#devices").await?;
    browser.wait("#discover").await?.click().await?;
    browser
        .wait_text("#discovered", |t| t.starts_with("Found"))
        .await?;
    Ok(())
}

/// Clicks Approve on `rule` (narrowed to `net` if given) and confirms; the
/// rule the confirmation said would be added.
async fn approve(browser: &Browser, rule: &str, net: Option<&str>) -> anyhow::Result<String> {
    if let Some(net) = net {
        let input = format!("input.narrow[data-rule=\"{rule}\"]");
        browser.type_into(&input, net).await?;
    }
    let button = format!("button.approve[data-rule=\"{rule}\"]");
    browser.wait(&button).await?.click().await?;
    let shown = browser.wait("#confirm-rule").await?.text().await?;
    browser.wait("#confirm-yes").await?.click().await?;
    Ok(shown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uploads_approves_rules_and_the_plugin_reaches_its_bulb_until_revoked()
-> anyhow::Result<()> {
    let (hub, browser) = signed_in().await?;
    upload_pending(&hub, &browser).await?;
    let net = hub.sim.network().to_string();

    browser.page(hub.addr, "#overview").await?;
    let waiting = browser
        .wait_text("main", |t| t.contains("Waiting for approval"))
        .await?;
    assert!(waiting.contains("tcp local ports 55443"), "{waiting}");

    browser.page(hub.addr, "#grants/yeelight").await?;
    browser.wait("table#grants").await?;
    let pending = browser
        .wait_text("table#grants", |t| t.contains("waiting"))
        .await?;
    assert_eq!(pending.matches("waiting").count(), 3, "{pending}");
    browser.screenshot("grants-pending").await?;

    let tcp = approve(&browser, "tcp local ports 55443", Some(&net)).await?;
    assert_eq!(
        tcp,
        format!("tcp {net} ports 55443"),
        "the confirmation names what is added"
    );
    browser
        .wait(&format!(
            "button.revoke[data-rule=\"tcp {net} ports 55443\"]"
        ))
        .await?;
    approve(&browser, "udp local ports 1982", Some(&net)).await?;
    browser
        .wait(&format!(
            "button.revoke[data-rule=\"udp {net} ports 1982\"]"
        ))
        .await?;
    approve(&browser, "discovery udp 239.255.255.250:1982", None).await?;
    browser
        .wait("button.revoke[data-rule=\"discovery udp 239.255.255.250:1982\"]")
        .await?;
    let table = browser
        .wait_text("table#grants", |t| !t.contains("waiting"))
        .await?;
    assert!(!table.contains("waiting"), "{table}");
    let grants = browser.screenshot("grants").await?;
    println!("grants page: {}", grants.display());

    discover(&hub, &browser).await?;
    let bulb = format!(
        "section.device[data-identity=\"{}\"]",
        hub.sim.bulbs()[0].id()
    );
    browser
        .wait(&format!("{bulb} button.read"))
        .await?
        .click()
        .await?;
    browser
        .wait(&format!("{bulb} label.attr[data-attribute=\"power\"]"))
        .await?;
    browser.show(&bulb).await?;
    browser.screenshot("devices").await?;

    browser.page(hub.addr, "#grants/yeelight").await?;
    browser
        .wait(&format!(
            "button.revoke[data-rule=\"tcp {net} ports 55443\"]"
        ))
        .await?
        .click()
        .await?;
    let revoked = browser.wait("#confirm-rule").await?.text().await?;
    assert_eq!(revoked, format!("tcp {net} ports 55443"));
    browser.wait("#confirm-yes").await?.click().await?;
    browser
        .wait("button.approve[data-rule=\"tcp local ports 55443\"]")
        .await?;

    browser.page(hub.addr, "#devices").await?;
    browser
        .wait(&format!("{bulb} button.read"))
        .await?
        .click()
        .await?;
    let refused = browser
        .wait_text(&format!("{bulb} .status"), |t| !t.is_empty())
        .await?;
    println!("after the revoke, reading the bulb: {refused}");
    assert!(
        refused.starts_with("unreachable") || refused.starts_with("network_denied"),
        "{refused}"
    );
    browser.screenshot("device-unreachable").await?;

    let entries = hub.hub.store().audit(&Default::default())?;
    let by_operator = |action: &str| {
        entries
            .iter()
            .filter(|e| e.action == action && e.actor == "test-operator")
            .count()
    };
    assert_eq!(
        by_operator("approve"),
        3,
        "one audit entry per approved rule"
    );
    assert_eq!(by_operator("revoke"), 1);
    assert!(
        entries
            .iter()
            .any(|e| e.action == "sign_in" && e.actor == "test-operator"),
        "sign-ins are audited"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ota_progress_bar_moves_to_done() -> anyhow::Result<()> {
    let (hub, browser) = signed_in().await?;
    discover(&hub, &browser).await?;
    let first = hub.shelly.devices()[0].id().to_string();
    let card = format!("section.device[data-identity=\"{first}\"]");
    browser
        .wait(&format!("{card} button.check-update"))
        .await?
        .click()
        .await?;
    browser
        .wait_text(&format!("{card} .ota"), |t| {
            t.contains("1.5.0 is available")
        })
        .await?;
    browser
        .wait(&format!("{card} button.update"))
        .await?
        .click()
        .await?;
    let state = format!("{card} .ota-state");
    let mut seen = Vec::new();
    let done = browser
        .wait_text(&state, |t| {
            if seen.last().map(String::as_str) != Some(t) {
                seen.push(t.to_string());
            }
            t == "done"
        })
        .await;
    println!("the progress read: {seen:?}");
    done?;
    assert!(
        seen.iter().any(|t| t.contains('%')),
        "the bar showed progress before done: {seen:?}"
    );
    let bar = browser.wait(&format!("{card} progress")).await?;
    assert_eq!(bar.attr("value").await?.as_deref(), Some("100"));
    browser.screenshot("ota-done").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_verifies_and_shows_entries_as_they_are_appended()
-> anyhow::Result<()> {
    let (hub, browser) = signed_in().await?;
    browser.page(hub.addr, "#audit").await?;
    browser.type_into("#audit-action", "disable").await?;
    browser.wait("#audit-filter button").await?.click().await?;
    browser.wait_text("#audit tbody", str::is_empty).await?;

    tokio::task::block_in_place(|| hub.hub.set_enabled("someone-else", "hostile", false))?;
    let live = browser
        .wait_text("#audit tbody", |t| t.contains("someone-else"))
        .await?;
    assert!(live.contains("hostile"), "{live}");
    assert!(
        !live.contains("approve"),
        "only the filtered action: {live}"
    );

    browser.wait("#verify").await?.click().await?;
    let verdict = browser
        .wait_text("#verify-result", |t| !t.is_empty())
        .await?;
    assert!(verdict.starts_with("Intact"), "{verdict}");
    browser.screenshot("audit").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_plugin_wrote_shows_as_text() -> anyhow::Result<()> {
    const MARKUP: &str = "<img src=x onerror=alert(1)>";
    let hub = TestHub::start(HubOptions::default()).await?;
    hub.sim.bulbs()[0]
        .execute("set_name", &[json!(MARKUP)])
        .map_err(anyhow::Error::msg)?;
    hub.sim.bulbs()[1]
        .execute("set_name", &[json!("Lamp\u{202E}devorppa")])
        .map_err(anyhow::Error::msg)?;
    let browser = Browser::start().await?;
    browser.sign_in(hub.addr, TOKEN).await?;
    discover(&hub, &browser).await?;
    let names = browser.wait_text(".cards", |t| t.contains(MARKUP)).await?;
    assert!(
        names.contains("Lamp<U+202E>devorppa"),
        "the override is shown: {names}"
    );
    let images = browser
        .client
        .find_all(fantoccini::Locator::Css("main img"))
        .await?;
    assert!(images.is_empty(), "the markup became an element");
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "a script ran"
    );
    let bulb = hub.sim.bulbs()[0].id();
    browser
        .show(&format!("section.device[data-identity=\"{bulb}\"]"))
        .await?;
    browser.screenshot("plugin-text").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_port_of_the_same_host_is_refused_the_session() -> anyhow::Result<()> {
    let (hub, browser) = signed_in().await?;
    let foreign = foreign_page(hub.addr).await?;
    browser.client.goto(&format!("http://{foreign}/")).await?;
    let title = browser.wait_text("#result", |t| !t.is_empty()).await?;
    assert_eq!(
        title, "refused",
        "a page elsewhere opened the hub's /ws with the cookie"
    );
    browser.screenshot("foreign-origin").await?;
    // The same page served by the hub itself would be let in.
    browser.page(hub.addr, "#sessions").await?;
    let sessions = browser
        .wait_text("table#sessions", |t| t.contains("this one"))
        .await?;
    assert!(sessions.contains("test-operator"), "{sessions}");
    Ok(())
}

/// A page on another port of 127.0.0.1 whose script opens the hub's `/ws`
/// (the browser sends the hub's SameSite cookie along: same site) and
/// writes `open` or `refused` into `#result`.
async fn foreign_page(hub: std::net::SocketAddr) -> anyhow::Result<std::net::SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!(
        "<!doctype html><p id=result></p><script>\
         const ws = new WebSocket('ws://{hub}/ws');\
         ws.onopen = () => document.getElementById('result').textContent = 'open';\
         ws.onerror = () => document.getElementById('result').textContent = 'refused';\
         </script>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    Ok(addr)
}

/// The status line of a WebSocket upgrade of `/ws` with `headers`.
async fn upgrade(hub: &TestHub, headers: &str) -> anyhow::Result<String> {
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let (head, _) = hub
        .http("GET", "/ws", &format!("{upgrade}{headers}"), "")
        .await?;
    Ok(head.lines().next().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_cookie_without_the_pages_key_opens_nothing() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let own = format!("Origin: http://{}\r\n", hub.addr);
    let json = "Content-Type: application/json\r\n";
    let foreign = format!("Origin: http://127.0.0.1:{}\r\n", hub.addr.port() + 1);
    let sign_in = format!(r#"{{"token":"{TOKEN}"}}"#);

    let (head, _) = hub
        .http("POST", "/session", &format!("{foreign}{json}"), &sign_in)
        .await?;
    assert!(
        head.starts_with("HTTP/1.1 403"),
        "a sign-in from another origin: {head}"
    );
    let (head, body) = hub
        .http("POST", "/session", &format!("{own}{json}"), &sign_in)
        .await?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let cookie_line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_default();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie_line.contains(attribute), "{cookie_line}");
    }
    assert!(
        !cookie_line.contains(TOKEN),
        "the token itself went into the cookie"
    );
    let id = cookie_line
        .split_once("hub_session=")
        .and_then(|(_, rest)| rest.split(';').next())
        .unwrap_or_default();
    let key = serde_json::from_str::<serde_json::Value>(&body)?["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!((id.len(), key.len()), (64, 64), "{head}\n{body}");
    let cookie = format!("Cookie: hub_session={id}\r\n");
    let protocol = format!("Sec-WebSocket-Protocol: hub-session.{key}\r\n");

    let opened = upgrade(&hub, &format!("{own}{cookie}{protocol}")).await?;
    assert!(
        opened.starts_with("HTTP/1.1 101"),
        "the console's own page: {opened}"
    );
    let no_key = upgrade(&hub, &format!("{own}{cookie}")).await?;
    assert!(
        no_key.starts_with("HTTP/1.1 401"),
        "the cookie alone: {no_key}"
    );
    let elsewhere = upgrade(&hub, &format!("{foreign}{cookie}{protocol}")).await?;
    assert!(
        elsewhere.starts_with("HTTP/1.1 403"),
        "another origin: {elsewhere}"
    );
    let shadowed = format!("Cookie: hub_session=planted; hub_session={id}\r\n");
    let twice = upgrade(&hub, &format!("{own}{shadowed}{protocol}")).await?;
    assert!(
        twice.starts_with("HTTP/1.1 401"),
        "a planted second cookie: {twice}"
    );

    let key_header = format!("x-hub-session-key: {key}\r\n");
    let (head, _) = hub
        .http("DELETE", "/session", &format!("{own}{cookie}"), "")
        .await?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, _) = hub
        .http("GET", "/session", &format!("{cookie}{key_header}"), "")
        .await?;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "signed out without the key: {head}"
    );
    let (head, _) = hub
        .http(
            "DELETE",
            "/session",
            &format!("{own}{cookie}{key_header}"),
            "",
        )
        .await?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, _) = hub
        .http("GET", "/session", &format!("{cookie}{key_header}"), "")
        .await?;
    assert!(head.starts_with("HTTP/1.1 401"), "still signed in: {head}");
    let entries = hub.hub.store().audit(&Default::default())?;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.ends_with(&["sign_in", "sign_out"]), "{actions:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_forbids_framing_sniffing_referrers_and_foreign_scripts() -> anyhow::Result<()>
{
    let hub = TestHub::start(HubOptions::default()).await?;
    for path in ["/", "/console/app.js", "/session", "/healthz", "/nowhere"] {
        let (head, _) = hub.http("GET", path, "", "").await?;
        let head = head.to_ascii_lowercase();
        for header in [
            "content-security-policy: default-src 'none'; script-src 'self';",
            "frame-ancestors 'none'",
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
        ] {
            assert!(head.contains(header), "{path}: no {header:?} in\n{head}");
        }
    }
    let (head, _) = hub.http("GET", "/console/app.js", "", "").await?;
    assert!(head.contains("text/javascript"), "{head}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_needs_an_operator_and_a_well_formed_body() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bearer = |token: &str| format!("Authorization: Bearer {token}\r\n");
    let (head, _) = hub.http("POST", "/plugins", "", "x").await?;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = hub
        .http("POST", "/plugins", &bearer(hub_tests::USER_TOKEN), "x")
        .await?;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (head, body) = hub
        .http("POST", "/plugins", &bearer(TOKEN), "no separator")
        .await?;
    assert!(
        head.starts_with("HTTP/1.1 400") && body.contains("one NUL byte"),
        "{body}"
    );
    let (head, body) = hub
        .http("POST", "/plugins", &bearer(TOKEN), "id = 1\0\0asm")
        .await?;
    assert!(
        head.starts_with("HTTP/1.1 400") && body.contains("manifest"),
        "{body}"
    );
    let (head, _) = hub.http("GET", "/plugins", &bearer(TOKEN), "").await?;
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    Ok(())
}

/// Builds the Yeelight plugin as `version`, signs it with the key in `dir`
/// and pushes it to `registry`; its tag.
async fn publish_yeelight(
    registry: &xtask::Registry,
    dir: &std::path::Path,
    version: &str,
) -> anyhow::Result<String> {
    let key = hub::keys::load_or_create(&dir.join("publisher.key"))?;
    let manifest = std::fs::read_to_string(xtask::manifest("yeelight")?)?
        .replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
    let path = dir.join(format!("plugin-{version}.toml"));
    std::fs::write(&path, manifest)?;
    let out = dir.join(format!("release-{version}"));
    hub::market::build(&xtask::guest("yeelight")?, &path, &out)?;
    hub::market::sign(&out, &key)?;
    let tag = format!("oci://{}/plugins/yeelight:{version}", registry.addr);
    hub::market::push(&hub::market::Package::open(&out)?, &tag).await?;
    Ok(tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_installs_from_a_registry_and_updates_as_the_marketplace_says()
-> anyhow::Result<()> {
    use hub::market::{Marketplace, clock};
    let registry = xtask::Registry::start()?;
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("market");
    let root = Marketplace::init(&folder, 1, 1)?;
    let market = Marketplace::open(&folder)?;
    let first = publish_yeelight(&registry, dir.path(), "0.1.1").await?;
    market.review(&hub::market::pull(&first).await?)?;
    let (hub, browser) = signed_in().await?;
    let operator = hub.market.clone();
    let follow = |market: &Marketplace| -> anyhow::Result<()> {
        let bundle = market.publish(clock(), 3600)?;
        tokio::task::block_in_place(|| operator.import_market("tests", &bundle, clock()))?;
        Ok(())
    };
    tokio::task::block_in_place(|| operator.pin_market("tests", root))?;
    follow(&market)?;

    browser.page(hub.addr, "#market").await?;
    let trust = browser.wait_text("#trust", |t| t.contains("holds")).await?;
    assert!(
        trust.contains("Root version 1") && trust.contains("(1 reviewed)"),
        "{trust}"
    );
    browser
        .wait_text("#updates", |t| t.contains("No newer"))
        .await?;

    // Installed from the registry by its reference: another publisher's
    // release than the file installed, so it waits for approval.
    let config = format!("discovery={}", hub.sim.discovery_addr());
    browser.type_into("#oci-reference", &first).await?;
    browser.type_into("#oci-config", &config).await?;
    browser.wait("#install-oci button").await?.click().await?;
    let said = browser
        .wait_text("#market-result", |t| !t.is_empty())
        .await?;
    assert!(
        said.contains("Updated yeelight from 0.1.0 to 0.1.1. It waits for approval"),
        "{said}"
    );
    let net = hub
        .sim
        .network()
        .to_string()
        .parse()
        .map_err(anyhow::Error::msg)?;
    tokio::task::block_in_place(|| hub.hub.approve("tests", "yeelight", &[net]))?;

    // A newer reviewed release fits the grant: offered, and installed.
    let next = publish_yeelight(&registry, dir.path(), "0.1.2").await?;
    market.review(&hub::market::pull(&next).await?)?;
    follow(&market)?;
    browser.page(hub.addr, "#overview").await?;
    browser.page(hub.addr, "#market").await?;
    let offered = browser
        .wait_text("#updates", |t| t.contains("0.1.2"))
        .await?;
    assert!(
        offered.contains("0.1.1 → 0.1.2") && offered.contains("fits its grant"),
        "{offered}"
    );
    browser.screenshot("market").await?;
    browser
        .wait("button.install[data-to=\"0.1.2\"]")
        .await?
        .click()
        .await?;
    let said = browser
        .wait_text("#market-result", |t| t.contains("Updated"))
        .await?;
    assert_eq!(said, "Updated yeelight from 0.1.1 to 0.1.2.", "{said}");
    let kept = hub.hub.store().plugin("yeelight")?.map(|p| p.config);
    assert!(
        kept.as_deref().unwrap_or_default().contains(&config[10..]),
        "the update lost the plugin's configuration: {kept:?}"
    );

    // An older release is refused, in words, unless asked for.
    browser.type_into("#oci-reference", &first).await?;
    browser.wait("#install-oci button").await?.click().await?;
    let refused = browser
        .wait_text("#market-result", |t| t.contains("invalid_argument"))
        .await?;
    assert!(refused.contains("a downgrade is refused"), "{refused}");
    Ok(())
}
