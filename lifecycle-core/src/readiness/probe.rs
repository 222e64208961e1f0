//! One attempt of a polled readiness probe: an HTTP GET that must answer 2xx, or a TCP connect.

use std::time::Duration;

use crate::plan::ProbePlan;

/// One probe attempt, bounded by `timeout`. `Ok` means ready; `Err` says why not.
pub(crate) async fn attempt(
    client: &reqwest::Client,
    probe: &ProbePlan,
    timeout: Duration,
) -> Result<(), String> {
    match probe {
        ProbePlan::Http { url } => http(client, url, timeout).await,
        ProbePlan::Tcp { host, port } => tcp(host, *port, timeout).await,
        ProbePlan::Notify | ProbePlan::Log { .. } => {
            Err("this probe is an event, not an attempt".to_owned())
        }
    }
}

/// Whether something already listens where the probe points (a TCP connect to the URL's or
/// the address's host and port succeeds): checked before spawning, when nothing of ours runs
/// there. A refused connect costs microseconds, unlike an HTTP request.
pub(crate) async fn port_in_use(probe: &ProbePlan, timeout: Duration) -> bool {
    match probe {
        ProbePlan::Http { url } => match lifecycle_spec::__private::parse_http_url(url) {
            Ok(parsed) => tcp(parsed.host, parsed.port, timeout).await.is_ok(),
            Err(_) => false,
        },
        ProbePlan::Tcp { host, port } => tcp(host, *port, timeout).await.is_ok(),
        ProbePlan::Notify | ProbePlan::Log { .. } => false,
    }
}

async fn http(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, client.get(url).send()).await {
        Err(_) => Err(format!(
            "GET {url}: no answer within {}",
            lifecycle_spec::DisplayDuration(timeout)
        )),
        Ok(Err(err)) => Err(format!("GET {url}: {}", error_chain(&err))),
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("GET {url}: HTTP {}", response.status())),
    }
}

async fn tcp(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
        Err(_) => Err(format!(
            "connect {host}:{port}: no answer within {}",
            lifecycle_spec::DisplayDuration(timeout)
        )),
        Ok(Err(err)) => Err(format!("connect {host}:{port}: {err}")),
        Ok(Ok(_)) => Ok(()),
    }
}

/// An error with its causes: reqwest's own message alone says little ("error sending request").
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
