//! A webhook receiver for notifier tests: a plain HTTP/1.1 server on a loopback port that can fail its next
//! N requests (HTTP 503), hang (accept and never answer), or be down (nothing listening), and records every
//! request it answered with 200.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request the receiver accepted (answered 200).
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

#[derive(Debug, Default)]
struct State {
    fail_next: usize,
    hang: bool,
    requests: usize,
    received: Vec<Received>,
}

/// The receiver; dropping it stops listening.
pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Receiver {
    pub async fn start() -> Result<Receiver> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let receiver = Receiver {
            port,
            state: Arc::default(),
            task: Mutex::new(None),
        };
        receiver.serve(listener);
        Ok(receiver)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn serve(&self, listener: TcpListener) {
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, state.clone()));
            }
        });
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// Answers the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// Accepts requests and never answers them (until turned off).
    pub fn set_hang(&self, hang: bool) {
        self.lock().hang = hang;
    }

    /// Stops listening: connections are refused until [`Receiver::restart`].
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) -> Result<()> {
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => {
                    self.serve(listener);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(anyhow!("rebinding port {}: {last:?}", self.port))
    }

    /// Requests seen, answered or not.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Requests answered with 200.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let request = match read_request(&mut stream).await {
        Ok(r) => r,
        Err(_) => return,
    };
    let status = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.requests += 1;
        if st.hang {
            None
        } else if st.fail_next > 0 {
            st.fail_next -= 1;
            Some("503 Service Unavailable")
        } else {
            st.received.push(request);
            Some("200 OK")
        }
    };
    match status {
        None => {
            // Hold the connection open without answering.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Some(status) => {
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Result<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(anyhow!("connection closed before the headers ended"));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().context("no request line")?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Received {
        path,
        headers,
        body,
    })
}
