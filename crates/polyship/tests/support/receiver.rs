//! A local HTTP receiver that stands in for a chat service's webhook (Slack cannot exist on a test
//! machine): it records every request and answers with a fixed status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A local HTTP receiver that records every request body and answers 200 (or `status`).
pub struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    pub fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("receiver");
        let port = listener.local_addr().expect("receiver").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("receiver"));
                let mut request = String::new();
                reader.read_line(&mut request).expect("receiver");
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).expect("receiver");
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().expect("receiver");
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("receiver");
                let path = request.split(' ').nth(1).unwrap_or_default().to_owned();
                seen.lock()
                    .expect("receiver")
                    .push((path, String::from_utf8(body).expect("receiver")));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            }
        });
        Self { port, bodies }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    pub fn bodies(&self) -> Vec<(String, serde_json::Value)> {
        self.bodies
            .lock()
            .expect("receiver")
            .iter()
            .map(|(p, b)| (p.clone(), serde_json::from_str(b).expect("receiver")))
            .collect()
    }
}
