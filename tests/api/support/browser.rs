//! A real browser for the tests: headless Chromium driven over WebDriver (chromedriver, installed
//! with Debian's `chromium-driver` by `.ci/run`), as a phone (390x844) or a desktop. With
//! `LODGE_SAVE_SCREENSHOTS=1` screenshots are saved under `docs/screenshots/`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq)]
pub enum Screen {
    Phone,
    Desktop,
}

impl Screen {
    pub fn name(self) -> &'static str {
        match self {
            Screen::Phone => "phone",
            Screen::Desktop => "desktop",
        }
    }
}

/// chromedriver and a Chromium session through it, both ended on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    screen: Screen,
}

impl Drop for Browser {
    /// Ends the Chromium session and chromedriver, also when a test fails before closing its
    /// session (Chromium outlives a killed chromedriver): a plain blocking DELETE of the session.
    fn drop(&mut self) {
        let port = self.driver_url.rsplit(':').next().unwrap_or_default();
        if let Ok(mut stream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn browser(screen: Screen) -> Browser {
    let port = free_port();
    let chromedriver = std::env::var("LODGE_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "these tests drive Chromium through {chromedriver} ({e}). Install it with \
                 `apt-get install chromium chromium-driver` (.ci/run does), or set LODGE_TEST_CHROMEDRIVER"
            )
        });
    let driver_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ];
    if screen == Screen::Desktop {
        args.push("--window-size=1280,900");
    }
    let mut options = json!({
        "binary": std::env::var("LODGE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        "args": args,
    });
    if screen == Screen::Phone {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true, "mobile": true},
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
        });
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a Chromium session");
    let session = client.session_id().await.unwrap().expect("a session");
    Browser {
        client,
        driver,
        driver_url,
        session,
        screen,
    }
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The element `css` finds, once the page has it.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// Waits until the page's text (in `css`) contains `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found.contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{expected}` never showed in {css}; it says: {found}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    pub async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// Chooses files in a file input, as the picker would.
    pub async fn choose_files(&self, css: &str, files: &[&Path]) {
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(&paths.join("\n"))
            .await
            .unwrap();
    }

    pub async fn screenshot(&self, tab: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot");
        if std::env::var_os("LODGE_SAVE_SCREENSHOTS").is_some() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{}-{tab}.png", self.screen.name())), png).unwrap();
        }
    }

    /// What the page wrote to its console at error level (scripts, the Content-Security-Policy,
    /// failed loads), through chromedriver's log endpoint.
    pub async fn console_errors(&self) -> Vec<String> {
        let session = &self.session;
        let logs: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.driver_url))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        logs["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Fails the test if the pages logged an error other than the answers `expected` (a path and the
    /// status it was meant to get, such as a wrong password's 401).
    pub async fn assert_no_errors_but(&self, expected: &[(&str, &str)]) {
        let errors: Vec<String> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|error| {
                !expected
                    .iter()
                    .any(|(path, status)| error.contains(path) && error.contains(status))
            })
            .collect();
        assert!(errors.is_empty(), "the pages logged errors: {errors:?}");
    }

    /// Takes the browser off the network, or puts it back (chromedriver's network conditions).
    pub async fn offline(&self, offline: bool) {
        let session = &self.session;
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/session/{session}/chromium/network_conditions",
                self.driver_url
            ))
            .json(&json!({"network_conditions": {
                "offline": offline, "latency": 0, "download_throughput": -1, "upload_throughput": -1
            }}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    }

    /// The page's serious and critical accessibility violations, by axe-core (from npm, installed
    /// by `.ci/run` under `.ci/axe/`, or the file `LODGE_TEST_AXE` names) run inside the page: its
    /// source is evaluated through WebDriver, which the page's Content-Security-Policy allows where
    /// a `<script>` tag would not be.
    pub async fn axe_violations(&self) -> Vec<String> {
        let path = std::env::var("LODGE_TEST_AXE").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/axe/node_modules/axe-core/axe.min.js").to_owned()
        });
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the accessibility checks need axe-core at {path} ({e}): \
                 `npm install --prefix .ci/axe axe-core@4.14.1` (.ci/run does), or set LODGE_TEST_AXE"
            )
        });
        let script = format!(
            "{source}\nreturn axe.run(document, {{resultTypes: ['violations']}}).then(r => r.violations\
             .filter(v => v.impact === 'serious' || v.impact === 'critical')\
             .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')));"
        );
        let found = self
            .client
            .execute(&script, vec![])
            .await
            .expect("axe-core runs in the page");
        serde_json::from_value(found).expect("a list of violations")
    }

    /// Fails the test if the page has a serious or critical accessibility violation.
    pub async fn assert_accessible(&self, page: &str) {
        let violations = self.axe_violations().await;
        assert!(
            violations.is_empty(),
            "{page} has accessibility violations: {violations:#?}"
        );
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}
