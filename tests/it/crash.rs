//! Crash safety: write through the real daemon in a loop, `kill -9` it at a random moment, 50
//! times; after every restart each acknowledged write is there and the store opens.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::TestEnv;

const CYCLES: usize = 50;

/// Sends one control request and returns the reply, or None if the daemon went away.
fn request(stream: &mut BufReader<UnixStream>, line: &str) -> Option<serde_json::Value> {
    stream
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_line(&mut answer).ok()?;
    serde_json::from_str(&answer).ok()
}

fn connect(env: &TestEnv) -> BufReader<UnixStream> {
    BufReader::new(UnixStream::connect(env.socket_path()).expect("control socket"))
}

fn names_in_store(env: &TestEnv) -> Vec<String> {
    let mut conn = connect(env);
    let reply = request(&mut conn, r#"{"op":"org_list"}"#).expect("list");
    reply["ok"]
        .as_array()
        .expect("org list")
        .iter()
        .map(|org| org["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A small deterministic generator, so a failing run can be repeated from its seed.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let env = TestEnv::new();
    let mut seed = u64::from(std::process::id()) | 1;
    eprintln!("crash test seed {seed}");
    let mut acknowledged: Vec<String> = Vec::new();

    for cycle in 0..CYCLES {
        let server = env.serve();
        let present = names_in_store(&env);
        for name in &acknowledged {
            assert!(
                present.contains(name),
                "cycle {cycle}: acknowledged write {name} lost"
            );
        }

        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let acked = acked.clone();
            let stop = stop.clone();
            let mut conn = connect(&env);
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("crash-{cycle}-{i}");
                    let line = format!(r#"{{"op":"org_create","name":"{name}"}}"#);
                    match request(&mut conn, &line) {
                        Some(reply) if reply.get("ok").is_some() => {
                            acked.lock().unwrap().push(name)
                        }
                        _ => break,
                    }
                    i += 1;
                }
            })
        };
        std::thread::sleep(Duration::from_millis(10 + next(&mut seed) % 150));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        acknowledged.extend(acked.lock().unwrap().drain(..));
    }

    let _server = env.serve();
    let present = names_in_store(&env);
    for name in &acknowledged {
        assert!(present.contains(name), "acknowledged write {name} lost");
    }
    assert!(
        acknowledged.len() >= CYCLES,
        "too few writes to mean anything: {}",
        acknowledged.len()
    );
}
