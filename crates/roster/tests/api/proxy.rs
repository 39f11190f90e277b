//! A TCP proxy between roster and its database server, which a test can cut
//! (every open connection closed, new ones refused — as when the server
//! stops) and restore (as when it comes back), without touching the server
//! the other tests share.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

pub struct Proxy {
    port: u16,
    upstream: String,
    accept: Option<JoinHandle<()>>,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
}

/// `host:port` of a database URL (`scheme://[userinfo@]host:port/db`).
fn authority(url: &str) -> (&str, &str, &str) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (scheme, host_port, tail)
}

fn bind(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(([127, 0, 0, 1], port).into()).expect("bind the proxy");
    socket.listen(128).expect("listen")
}

impl Proxy {
    /// A proxy in front of the server of `url`, passing traffic.
    pub fn start(url: &str) -> Proxy {
        let (_, upstream, _) = authority(url);
        let listener = bind(0);
        let port = listener.local_addr().expect("address").port();
        let mut proxy = Proxy { port, upstream: upstream.to_owned(), accept: None, pipes: Arc::default() };
        proxy.accept = Some(proxy.serve(listener));
        proxy
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        let (scheme, _, tail) = authority(url);
        let rest = url.split_once("://").expect("a URL").1;
        let userinfo = rest[..rest.find(['/', '?']).unwrap_or(rest.len())].rsplit_once('@').map(|(u, _)| u);
        match userinfo {
            Some(u) => format!("{scheme}://{u}@127.0.0.1:{}{tail}", self.port),
            None => format!("{scheme}://127.0.0.1:{}{tail}", self.port),
        }
    }

    fn serve(&self, listener: TcpListener) -> JoinHandle<()> {
        let upstream = self.upstream.clone();
        let pipes = self.pipes.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                pipes.lock().expect("pipes").push(pipe.abort_handle());
            }
        })
    }

    /// The server "goes away": open connections are closed, new ones refused.
    pub fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for pipe in self.pipes.lock().expect("pipes").drain(..) {
            pipe.abort();
        }
    }

    /// The server is back on the same address.
    pub fn restore(&mut self) {
        if self.accept.is_none() {
            self.accept = Some(self.serve(bind(self.port)));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}
