//! Connecting the processes of a cluster: every pair gets one TCP connection, made here
//! and handed to timely's communication layer. Timely can connect by itself, but it
//! prints its retries on stdout (the user's output), waits a whole second between
//! attempts and never gives up; this waits a few milliseconds between attempts and
//! gives up at a deadline, naming the processes that never came.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long to wait between attempts to connect or accept.
const POLL: Duration = Duration::from_millis(5);

/// Connects process `me` to every other process at `addresses`: it connects to those
/// before it and accepts those after it, each announcing its index. Returns one stream
/// per process, in process order, with `None` in `me`'s place.
pub fn connect_mesh(addresses: &[String], me: usize, timeout: Duration) -> Result<Vec<Option<TcpStream>>, String> {
    let deadline = Instant::now() + timeout;
    let listener = match me + 1 < addresses.len() {
        true => Some(TcpListener::bind(&addresses[me]).map_err(|e| format!("process {me} cannot listen on {}: {e}", addresses[me]))?),
        false => None,
    };
    let mut streams: Vec<Option<TcpStream>> = (0..addresses.len()).map(|_| None).collect();
    for (peer, address) in addresses.iter().enumerate().take(me) {
        streams[peer] = Some(dial(address, me, deadline).map_err(|e| missing(me, addresses, &[peer], e))?);
    }
    if let Some(listener) = listener {
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        while streams[me + 1..].iter().any(Option::is_none) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let peer = greeting(stream.try_clone().map_err(|e| e.to_string())?)?;
                    if peer <= me || peer >= addresses.len() || streams[peer].is_some() {
                        return Err(format!("process {me} got a connection claiming to be process {peer}; are two clusters using the same ports?"));
                    }
                    streams[peer] = Some(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        let absent: Vec<usize> = (me + 1..addresses.len()).filter(|p| streams[*p].is_none()).collect();
                        return Err(missing(me, addresses, &absent, "they never connected".into()));
                    }
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(format!("process {me} stopped accepting connections: {e}")),
            }
        }
    }
    for stream in streams.iter().flatten() {
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
    }
    Ok(streams)
}

/// Connects to `address` until it answers or the deadline passes, then says who we are.
fn dial(address: &str, me: usize, deadline: Instant) -> Result<TcpStream, String> {
    loop {
        match TcpStream::connect(address) {
            Ok(mut stream) => {
                stream.write_all(&(me as u64).to_le_bytes()).map_err(|e| e.to_string())?;
                return Ok(stream);
            }
            Err(e) if Instant::now() >= deadline => return Err(e.to_string()),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// The index a connecting process announces.
fn greeting(mut stream: TcpStream) -> Result<usize, String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut index = [0u8; 8];
    stream.read_exact(&mut index).map_err(|e| format!("a process connected but did not say which it is: {e}"))?;
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    Ok(u64::from_le_bytes(index) as usize)
}

fn missing(me: usize, addresses: &[String], peers: &[usize], why: String) -> String {
    let which: Vec<String> = peers.iter().map(|p| format!("{p} ({})", addresses[*p])).collect();
    format!(
        "process {me} could not connect to process {} of the cluster ({why}); check that all {} processes \
         are started with the same addresses ({}) and that their ports are reachable",
        which.join(", "),
        addresses.len(),
        addresses.join(";")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_addresses(n: usize) -> Vec<String> {
        let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect()
    }

    #[test]
    fn three_processes_each_get_a_stream_to_every_other() {
        let addresses = free_addresses(3);
        let handles: Vec<_> = (0..3)
            .map(|me| {
                let addresses = addresses.clone();
                std::thread::spawn(move || connect_mesh(&addresses, me, Duration::from_secs(10)).unwrap())
            })
            .collect();
        for (me, handle) in handles.into_iter().enumerate() {
            let streams = handle.join().unwrap();
            let present: Vec<bool> = streams.iter().map(Option::is_some).collect();
            let expected: Vec<bool> = (0..3).map(|p| p != me).collect();
            assert_eq!(present, expected);
        }
    }

    #[test]
    fn a_process_that_never_comes_is_named_after_the_timeout() {
        let addresses = free_addresses(2);
        let err = connect_mesh(&addresses, 1, Duration::from_millis(200)).unwrap_err();
        assert!(err.starts_with(&format!("process 1 could not connect to process 0 ({})", addresses[0])), "{err}");
        let err = connect_mesh(&addresses, 0, Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("process 1 (") && err.contains("they never connected"), "{err}");
    }
}
