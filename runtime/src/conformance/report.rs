//! The outcome of a conformance run: one line per check as it finishes,
//! a closing table, and JUnit XML or JSON for CI systems.

use crate::plugins::CallUsage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub outcome: Outcome,
    /// For a failure, what to fix; for a skip, why.
    pub detail: String,
    #[serde(rename = "millis")]
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

#[derive(Debug, Default, Serialize)]
pub struct Resources {
    /// Fuel of one call on a fresh instance while the devices are quiet:
    /// the same on every run of the same plugin against the same devices.
    pub fresh_instance_fuel: BTreeMap<&'static str, u64>,
    /// Every call of the run (their fuel varies with what the devices
    /// pushed in between).
    pub calls: BTreeMap<&'static str, CallUsage>,
    pub sockets_opened: u64,
    pub refused_network_uses: u64,
    /// How long an instance takes to start, without the plugin's init:
    /// what each device's first call and each watcher costs.
    pub fresh_instance_us: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub plugin: String,
    pub version: String,
    pub devices: String,
    pub checks: Vec<CheckResult>,
    pub resources: Resources,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl CheckResult {
    /// The progress line printed as the check finishes.
    pub fn line(&self, index: usize, total: usize) -> String {
        let outcome = match self.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        let mut line = format!(
            "[{index:>2}/{total}] {:.<28} {outcome} {:>7} ms",
            format!("{} ", self.name),
            self.duration.as_millis()
        );
        for detail in self
            .detail
            .lines()
            .filter(|_| self.outcome != Outcome::Pass)
        {
            let _ = write!(line, "\n         {detail}");
        }
        line
    }
}

impl Report {
    pub fn failures(&self) -> usize {
        self.count(Outcome::Fail)
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    /// The resource table and the closing line.
    pub fn summary(&self) -> String {
        let mut out = String::from("\nresource use\n");
        let _ = writeln!(
            out,
            "  {:<16} {:>5} {:>16} {:>26} {:>12}",
            "call", "calls", "fuel (fresh)", "fuel during the run", "peak memory"
        );
        for (call, usage) in &self.resources.calls {
            let fresh = self.resources.fresh_instance_fuel.get(call);
            let _ = writeln!(
                out,
                "  {call:<16} {:>5} {:>16} {:>26} {:>8} KiB",
                usage.calls,
                fresh.map_or("-".into(), |f| grouped(*f)),
                format!("{}..{}", grouped(usage.fuel_min), grouped(usage.fuel_max)),
                usage.peak_memory >> 10
            );
        }
        let _ = writeln!(
            out,
            "  sockets opened: {}   network uses refused by the grant: {}",
            self.resources.sockets_opened, self.resources.refused_network_uses
        );
        if let Some(us) = self.resources.fresh_instance_us {
            let _ = writeln!(out, "  a fresh instance (without init): {us:.0} µs");
        }
        let _ = write!(
            out,
            "\n{} checks: {} passed, {} failed, {} skipped",
            self.checks.len(),
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip)
        );
        out
    }

    pub fn junit(&self) -> String {
        let seconds = |d: Duration| format!("{:.3}", d.as_secs_f64());
        let total: Duration = self.checks.iter().map(|c| c.duration).sum();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"hub plugin test\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
            self.checks.len(),
            self.failures(),
            self.count(Outcome::Skip),
            seconds(total)
        );
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
            escape(&format!("{} {}", self.plugin, self.version)),
            self.checks.len(),
            self.failures(),
            self.count(Outcome::Skip),
            seconds(total)
        );
        for check in &self.checks {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape(&self.plugin),
                check.name,
                seconds(check.duration)
            );
            let detail = escape(&check.detail);
            let _ = match check.outcome {
                Outcome::Pass => writeln!(xml, "/>"),
                Outcome::Fail => writeln!(
                    xml,
                    ">\n      <failure message=\"{}\">{detail}</failure>\n    </testcase>",
                    escape(check.detail.lines().next().unwrap_or_default())
                ),
                Outcome::Skip => writeln!(
                    xml,
                    ">\n      <skipped message=\"{detail}\"/>\n    </testcase>"
                ),
            };
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_carries_failures_with_what_to_fix() {
        let report = Report {
            plugin: "p".into(),
            version: "1.0.0".into(),
            devices: String::new(),
            checks: vec![
                CheckResult {
                    name: "load",
                    outcome: Outcome::Pass,
                    detail: String::new(),
                    duration: Duration::from_millis(5),
                },
                CheckResult {
                    name: "discover",
                    outcome: Outcome::Fail,
                    detail: "missed <bulb> & \"lamp\"".into(),
                    duration: Duration::ZERO,
                },
            ],
            resources: Resources::default(),
        };
        let xml = report.junit();
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("<failure message=\"missed &lt;bulb&gt; &amp; &quot;lamp&quot;\">"),
            "{xml}"
        );
        assert_eq!(grouped(1234567), "1,234,567");
    }
}
